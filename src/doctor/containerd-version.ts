import { execa } from 'execa';
import { parseContainerdVersion, type ContainerdVersion } from './containerd-config.js';

/**
 * `containerd --version`, run through `pull.hostExec` (e.g. nsenter into the
 * host's mount namespace when doctor runs in the pod). Undefined when the
 * binary is absent or answers nothing parseable; the config check then falls
 * back on the config file's `version = 3`.
 */
export async function readContainerdVersion(
  hostExec: readonly string[],
): Promise<ContainerdVersion | undefined> {
  const argv = [...hostExec, 'containerd', '--version'];
  try {
    const { stdout } = await execa(argv[0] ?? 'containerd', argv.slice(1), {
      timeout: 5000,
      reject: true,
      stdin: 'ignore',
    });
    return parseContainerdVersion(stdout);
  } catch {
    return undefined;
  }
}
