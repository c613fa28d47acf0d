import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { createCoalescingRunner } from '../lib/serial.js';

/** A running watch; `stop` releases it. */
export interface FileWatch {
  stop(): Promise<void>;
}

/**
 * Calls `onChange` (serialised, bursts coalesced) after any change near
 * `files`. We watch their parent directories, not the files: a Secret
 * mounted by the kubelet swaps a `..data` symlink under unchanged file
 * names, and an editor or `mv` replaces the inode; a watch on the file
 * itself sees neither. The callback re-reads and compares, so spurious
 * events cost a read, never a wrong reload.
 */
export async function watchFiles(
  files: readonly string[],
  onChange: () => Promise<void>,
  options: { debounceMs?: number } = {},
): Promise<FileWatch> {
  const dirs = [...new Set(files.map((f) => path.dirname(path.resolve(f))))];
  const runner = createCoalescingRunner(onChange);
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void runner.trigger(), options.debounceMs ?? 20);
  };
  const watcher: FSWatcher = watch(dirs, { depth: 0, followSymlinks: false, ignoreInitial: true, atomic: false });
  watcher.on('all', fire);
  watcher.on('error', fire);
  await new Promise<void>((resolve) => watcher.once('ready', resolve));
  return {
    async stop() {
      if (timer !== undefined) clearTimeout(timer);
      await watcher.close();
      await runner.idle();
    },
  };
}
