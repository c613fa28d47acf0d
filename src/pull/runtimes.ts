/**
 * The one place that builds runtime argument arrays. Every command is
 * `[...hostExec, binary, ...args]`: from the privileged pod, hostExec
 * (`nsenter --target 1 --mount --`) makes the host's binaries, certs.d and
 * containerd socket the ones used. The reference is always a single array
 * element after the options, never parsed by a shell.
 */
export type RuntimeName = 'nerdctl' | 'crictl' | 'ctr';

/** Detection order of `runtime: auto`: the kubelet-like tools first, ctr last. */
export const runtimeOrder: readonly RuntimeName[] = ['nerdctl', 'crictl', 'ctr'];

export interface RuntimeSettings {
  /** Prefix for every command (`pull.hostExec`). */
  readonly hostExec: readonly string[];
  /** containerd socket path (`pull.address`). */
  readonly address: string;
  /** containerd namespace (`pull.namespace`). */
  readonly namespace: string;
  /** certs.d the runtime reads (`pull.hostsDir`). */
  readonly hostsDir: string;
}

export type Argv = readonly [string, ...string[]];

function command(s: RuntimeSettings, args: readonly string[]): Argv {
  const [first, ...rest] = [...s.hostExec, ...args];
  return [first ?? args[0] ?? '', ...rest];
}

function globals(runtime: RuntimeName, s: RuntimeSettings): string[] {
  switch (runtime) {
    case 'nerdctl':
      return ['nerdctl', '--address', s.address, '--namespace', s.namespace, '--hosts-dir', s.hostsDir];
    // crictl goes through containerd's CRI, which reads its own registry.config_path (as the kubelet does).
    case 'crictl':
      return ['crictl', '--runtime-endpoint', `unix://${s.address}`];
    case 'ctr':
      return ['ctr', '--address', s.address, '--namespace', s.namespace];
  }
}

/** `--version` of the binary: the presence probe of `runtime: auto`. */
export function buildVersionCommand(runtime: RuntimeName, s: RuntimeSettings): Argv {
  return command(s, [runtime, '--version']);
}

/** Pulls `ref` (normalised) with the runtime's view of certs.d. */
export function buildPullCommand(runtime: RuntimeName, s: RuntimeSettings, ref: string): Argv {
  const g = globals(runtime, s);
  switch (runtime) {
    case 'nerdctl':
      return command(s, [...g, 'pull', '--quiet', ref]);
    case 'crictl':
      return command(s, [...g, 'pull', ref]);
    // ctr reads no hosts dir unless told.
    case 'ctr':
      return command(s, [...g, 'images', 'pull', '--hosts-dir', s.hostsDir, ref]);
  }
}

/** Lists `ref` in the runtime's store: its output gives presence and the manifest digest. */
export function buildInspectCommand(runtime: RuntimeName, s: RuntimeSettings, ref: string): Argv {
  const g = globals(runtime, s);
  switch (runtime) {
    case 'nerdctl':
      return command(s, [...g, 'image', 'inspect', ref]);
    case 'crictl':
      return command(s, [...g, 'inspecti', '--output', 'json', ref]);
    case 'ctr':
      return command(s, [...g, 'images', 'ls', `name==${ref}`]);
  }
}

/**
 * The manifest (or index) digest the store holds for `ref`, from the inspect
 * command's output; undefined when the image is not there.
 */
export function parseStoredDigest(runtime: RuntimeName, ref: string, stdout: string): string | undefined {
  if (runtime === 'ctr') return parseCtrImagesLs(ref, stdout);
  const repoDigests = runtime === 'nerdctl' ? nerdctlRepoDigests(stdout) : crictlRepoDigests(stdout);
  const name = repoName(ref);
  // Prefer the digest recorded for this repository; an image pulled under several names has several.
  const match = repoDigests.find((d) => d.startsWith(`${name}@`)) ?? repoDigests[0];
  return match?.slice(match.indexOf('@') + 1);
}

// `REF TYPE DIGEST SIZE PLATFORMS LABELS` (ctr images ls, containerd 1.6/1.7).
function parseCtrImagesLs(ref: string, stdout: string): string | undefined {
  for (const line of stdout.split('\n').slice(1)) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name === ref && digest?.includes(':') === true) return digest;
  }
  return undefined;
}

// nerdctl image inspect prints a JSON array of Docker-compatible images.
function nerdctlRepoDigests(stdout: string): string[] {
  const parsed = safeJson(stdout);
  const first: unknown = Array.isArray(parsed) ? parsed[0] : undefined;
  return stringArray((first as { RepoDigests?: unknown } | undefined)?.RepoDigests);
}

// crictl inspecti -o json prints {"status": {"repoDigests": [...]}, "info": {...}}.
function crictlRepoDigests(stdout: string): string[] {
  const parsed = safeJson(stdout) as { status?: { repoDigests?: unknown } } | undefined;
  return stringArray(parsed?.status?.repoDigests);
}

/** `domain/path` of a normalised reference (tag and digest removed). */
function repoName(ref: string): string {
  const noDigest = ref.split('@')[0] ?? ref;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
