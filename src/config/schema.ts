import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';

/**
 * The agent's configuration: its types, and the JSON Schema that validates
 * a config file and fills in the defaults (SPEC "Defaults"). Every key is
 * optional; objects are closed, so an unknown key is refused with its path.
 *
 * Validation is ajv's, the validator fastify already loads for the API's
 * bodies: the agent carries one schema library, not two (zod cost the idle
 * agent 4 MiB of RSS for this one file, see README "Performance").
 */

export interface ServiceRef {
  /** Namespace of the Service. */
  readonly namespace: string;
  /** Name of the Service. */
  readonly name: string;
}

export interface TrustConfig {
  /** Mounted ConfigMap directory (kubelet layout). When set, it wins over `configMap`. */
  readonly sourceDir?: string | undefined;
  /** ConfigMap watched through the API when `sourceDir` is absent. */
  readonly configMap: ServiceRef;
  /** containerd hosts directory; "" disables. Default `/etc/containerd/certs.d`. */
  readonly containerdCertsDir: string;
  /** Docker-style certs directory; "" disables. Default `/etc/docker/certs.d`. */
  readonly dockerCertsDir: string;
  /** containerd's config file, read by doctor. */
  readonly containerdConfig: string;
  /** Full resync period (drift repair), seconds. Default 300, at most `maxResyncSeconds`. */
  readonly resyncSeconds: number;
}

export interface HostsConfig {
  /** Hosts file; "" disables. Default `/etc/hosts`. */
  readonly file: string;
  /** Cluster DNS domain. Default `cluster.local`. */
  readonly clusterDomain: string;
  /** Services whose ClusterIPs are mapped. */
  readonly services: readonly ServiceRef[];
}

export type TlsConfig =
  | { readonly mode: 'self-signed' }
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly mode: 'disabled' };

export type AuthConfig =
  | { readonly mode: 'kubernetes'; readonly audiences: readonly string[] }
  | { readonly mode: 'token'; readonly tokenFile: string }
  | { readonly mode: 'none' };

export interface ServerConfig {
  /** HTTPS listen address `host:port`; "" disables TCP. Default `0.0.0.0:9443`. */
  readonly listen: string;
  /** TLS for the TCP listener. Default self-signed. */
  readonly tls: TlsConfig;
  /** Unix socket path (mode 0600); "" disables. */
  readonly socket: string;
  /** Caller authentication. Default kubernetes (TokenReview + SubjectAccessReview). */
  readonly auth: AuthConfig;
}

export interface BackupConfig {
  /** Named backup sources. Default `{ minio: /cpaas/minio }`. */
  readonly sources: Readonly<Record<string, string>>;
  /** Where archives go; refused if inside a source. */
  readonly dir: string;
  /** Job records. */
  readonly stateDir: string;
  /** Free space (percent) the backup filesystem must keep after the archive. */
  readonly minFreePercent: number;
}

export type PullRuntimeSetting = 'auto' | 'nerdctl' | 'crictl' | 'ctr';

export interface PullConfig {
  /** Runtime used for pull checks. */
  readonly runtime: PullRuntimeSetting;
  /** Prefix for every runtime command, e.g. `[nsenter, --target, "1", --mount, --]`. */
  readonly hostExec: readonly string[];
  /** containerd socket. */
  readonly address: string;
  /** containerd namespace. */
  readonly namespace: string;
  /** certs.d the runtime reads. */
  readonly hostsDir: string;
  /** Registries pull checks may name; empty: the hosts of the trust source. */
  readonly allowedRegistries: readonly string[];
}

/** The configuration file after validation, defaults filled in. */
export interface FileConfig {
  readonly nodeName?: string | undefined;
  /** The node's IPv4 or IPv6 address (default `NODE_IP`); it names the archive, so anything else is refused at load. */
  readonly nodeIP?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly trust: TrustConfig;
  readonly hosts: HostsConfig;
  readonly server: ServerConfig;
  readonly backup: BackupConfig;
  readonly pull: PullConfig;
}

type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The configuration as written in the file (everything optional). */
export type ConfigInput = DeepPartial<FileConfig>;

/** The loaded configuration, defaults filled in, plus what the environment gives. */
export type Config = FileConfig & {
  /** Node name: `nodeName`, else `NODE_NAME`, else the host name. */
  readonly nodeName: string;
  /** The agent's own pod, for Events (`POD_NAME`/`POD_NAMESPACE`). */
  readonly pod?: { readonly name: string; readonly namespace: string };
  /** The agent pod's IP (`POD_IP`), when known. */
  readonly podIP?: string | undefined;
};

/**
 * 24 days: the longest period Node's timers take is 2^31-1 ms (about 24.8
 * days); beyond it setInterval warns and fires every millisecond instead.
 */
export const maxResyncSeconds = 2_073_600;

const text = { type: 'string', minLength: 1 } as const;
const anyText = { type: 'string' } as const;
const texts = { type: 'array', items: text } as const;

function closed(properties: Record<string, object>, required: string[] = [], defaults?: object): object {
  return { type: 'object', properties, required, additionalProperties: false, ...(defaults === undefined ? {} : { default: defaults }) };
}

/** A backup source's name, the API's `source`. */
const sourceNamePattern = '^[a-z0-9][a-z0-9-]{0,62}$';

const serviceRef = closed({ namespace: text, name: text }, ['namespace', 'name']);

/**
 * One closed branch per `mode` (ajv's discriminator picks the branch, so the
 * errors name that branch's keys). A branch's keys are required except
 * those listed in `optional`.
 */
function byMode(branches: Record<string, Record<string, object>>, defaults: object, optional: string[] = []): object {
  return {
    type: 'object',
    discriminator: { propertyName: 'mode' },
    properties: { mode: { type: 'string' } },
    required: ['mode'],
    oneOf: Object.entries(branches).map(([mode, props]) =>
      closed({ mode: { const: mode }, ...props }, ['mode', ...Object.keys(props).filter((k) => !optional.includes(k))]),
    ),
    default: defaults,
  };
}

/** The JSON Schema of the config file; `default`s are SPEC's. */
export const configJsonSchema = closed({
  nodeName: text,
  nodeIP: text,
  kubeconfig: text,
  trust: closed(
    {
      sourceDir: text,
      configMap: { ...serviceRef, default: { namespace: 'image-registry-system', name: 'image-registry-certificates' } },
      containerdCertsDir: { ...anyText, default: '/etc/containerd/certs.d' },
      dockerCertsDir: { ...anyText, default: '/etc/docker/certs.d' },
      containerdConfig: { ...anyText, default: '/etc/containerd/config.toml' },
      resyncSeconds: { type: 'integer', minimum: 1, maximum: maxResyncSeconds, default: 300 },
    },
    [],
    {},
  ),
  hosts: closed(
    {
      file: { ...anyText, default: '/etc/hosts' },
      clusterDomain: { ...text, default: 'cluster.local' },
      services: { type: 'array', items: serviceRef, default: [{ namespace: 'image-registry-system', name: 'image-registry' }] },
    },
    [],
    {},
  ),
  server: closed(
    {
      listen: { ...anyText, default: '0.0.0.0:9443' },
      tls: byMode({ 'self-signed': {}, files: { certFile: text, keyFile: text }, disabled: {} }, { mode: 'self-signed' }),
      socket: { ...anyText, default: '/var/run/node-ca/agent.sock' },
      auth: byMode({ kubernetes: { audiences: { type: 'array', items: anyText } }, token: { tokenFile: text }, none: {} }, { mode: 'kubernetes' }, ['audiences']),
    },
    [],
    {},
  ),
  backup: closed(
    {
      sources: {
        type: 'object',
        propertyNames: { pattern: sourceNamePattern },
        additionalProperties: text,
        default: { minio: '/cpaas/minio' },
      },
      dir: { ...text, default: '/cpaas/backup' },
      stateDir: { ...text, default: '/var/lib/node-ca' },
      minFreePercent: { type: 'number', minimum: 0, maximum: 99, default: 10 },
    },
    [],
    {},
  ),
  pull: closed(
    {
      runtime: { enum: ['auto', 'nerdctl', 'crictl', 'ctr'], default: 'auto' },
      hostExec: { ...texts, default: [] },
      address: { ...text, default: '/run/containerd/containerd.sock' },
      namespace: { ...text, default: 'k8s.io' },
      hostsDir: { ...text, default: '/etc/containerd/certs.d' },
      allowedRegistries: { ...texts, default: [] },
    },
    [],
    {},
  ),
}) as SchemaObject;

let validator: ValidateFunction | undefined;

/**
 * Validates `raw` (a parsed YAML or JSON document) and returns a copy with
 * every default filled in, or the problems, each naming its key.
 */
export function validateConfigDocument(raw: unknown): { config: FileConfig; problems?: never } | { config?: never; problems: string[] } {
  validator ??= new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: true }).compile(configJsonSchema);
  // ajv fills defaults in place: work on a copy, the caller's document stays as written.
  const doc: unknown = raw === null || raw === undefined ? {} : structuredClone(raw);
  if (!validator(doc)) return { problems: describeErrors(validator.errors ?? []) };
  const config = doc as FileConfig;
  // Defaults inside a oneOf branch are not applied by ajv.
  if (config.server.auth.mode === 'kubernetes' && !('audiences' in config.server.auth))
    (config.server.auth as unknown as { audiences: string[] }).audiences = [];
  return { config };
}

const describe: Partial<Record<string, (at: string[], e: ErrorObject) => string | undefined>> = {
  additionalProperties: (at, e) => `unknown key ${[...at, String(e.params.additionalProperty)].join('.')}`,
  required: (at, e) => `${[...at, String(e.params.missingProperty)].join('.')}: is required`,
  propertyNames: (at, e) => `${[...at, String(e.params.propertyName)].join('.')}: name must match ${sourceNamePattern}`,
  // The name's own pattern error comes with propertyNames, which says it better.
  pattern: (at, e) => (e.propertyName === undefined ? `${where(at)}: ${e.message ?? 'must match a pattern'}` : undefined),
  enum: (at, e) => `${where(at)}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
  discriminator: (at, e) =>
    `${[...at, 'mode'].join('.')}: ${e.params.error === 'mapping' ? `unknown mode ${JSON.stringify(e.params.tagValue)}` : 'must be a string'}`,
};

function where(at: string[]): string {
  return at.length > 0 ? at.join('.') : '(top level)';
}

function describeErrors(errors: ErrorObject[]): string[] {
  const problems = new Set<string>();
  for (const e of errors) {
    const at = e.instancePath.split('/').slice(1).map(unescapePointer);
    const problem = (describe[e.keyword] ?? ((p: string[]) => `${where(p)}: ${e.message ?? e.keyword}`))(at, e);
    if (problem !== undefined) problems.add(problem);
  }
  return [...problems];
}

function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}
