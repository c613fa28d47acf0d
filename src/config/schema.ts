import { z } from 'zod';

/**
 * The agent's configuration, one source of truth for types and validation.
 * Every key is optional; defaults match the platform (SPEC "Defaults").
 * Objects are strict: an unknown key is refused with its path.
 */

const serviceRef = z.strictObject({
  /** Namespace of the Service. */
  namespace: z.string().min(1),
  /** Name of the Service. */
  name: z.string().min(1),
});

const trustSchema = z
  .strictObject({
    /** Mounted ConfigMap directory (kubelet layout). When set, it wins over `configMap`. */
    sourceDir: z.string().min(1).optional(),
    /** ConfigMap watched through the API when `sourceDir` is absent. */
    configMap: serviceRef
      .default({ namespace: 'image-registry-system', name: 'image-registry-certificates' }),
    /** containerd hosts directory; "" disables. Default `/etc/containerd/certs.d`. */
    containerdCertsDir: z.string().default('/etc/containerd/certs.d'),
    /** Docker-style certs directory; "" disables. Default `/etc/docker/certs.d`. */
    dockerCertsDir: z.string().default('/etc/docker/certs.d'),
    /** containerd's config file, read by doctor. */
    containerdConfig: z.string().default('/etc/containerd/config.toml'),
    /** Full resync period (drift repair), seconds. Default 300. */
    resyncSeconds: z.number().int().min(1).default(300),
  })
  .prefault({});

const hostsSchema = z
  .strictObject({
    /** Hosts file; "" disables. Default `/etc/hosts`. */
    file: z.string().default('/etc/hosts'),
    /** Cluster DNS domain. Default `cluster.local`. */
    clusterDomain: z.string().min(1).default('cluster.local'),
    /** Services whose ClusterIPs are mapped. */
    services: z
      .array(serviceRef)
      .default([{ namespace: 'image-registry-system', name: 'image-registry' }]),
  })
  .prefault({});

const tlsSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('self-signed') }),
  z.strictObject({ mode: z.literal('files'), certFile: z.string().min(1), keyFile: z.string().min(1) }),
  z.strictObject({ mode: z.literal('disabled') }),
]);

const authSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('kubernetes'), audiences: z.array(z.string()).default([]) }),
  z.strictObject({ mode: z.literal('token'), tokenFile: z.string().min(1) }),
  z.strictObject({ mode: z.literal('none') }),
]);

const serverSchema = z
  .strictObject({
    /** HTTPS listen address `host:port`; "" disables TCP. Default `0.0.0.0:9443`. */
    listen: z.string().default('0.0.0.0:9443'),
    /** TLS for the TCP listener. Default self-signed. */
    tls: tlsSchema.default({ mode: 'self-signed' }),
    /** Unix socket path (mode 0600); "" disables. */
    socket: z.string().default('/var/run/node-ca/agent.sock'),
    /** Caller authentication. Default kubernetes (TokenReview + SubjectAccessReview). */
    auth: authSchema.default({ mode: 'kubernetes', audiences: [] }),
  })
  .prefault({});

const backupSchema = z
  .strictObject({
    /** Named backup sources. Default `{ minio: /cpaas/minio }`. */
    sources: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/), z.string().min(1)).default({
      minio: '/cpaas/minio',
    }),
    /** Where archives go; refused if inside a source. */
    dir: z.string().min(1).default('/cpaas/backup'),
    /** Job records. */
    stateDir: z.string().min(1).default('/var/lib/node-ca'),
    /** Free space (percent) the backup filesystem must keep after the archive. */
    minFreePercent: z.number().min(0).max(99).default(10),
  })
  .prefault({});

const pullSchema = z
  .strictObject({
    /** Runtime used for pull checks. */
    runtime: z.enum(['auto', 'nerdctl', 'crictl', 'ctr']).default('auto'),
    /** Prefix for every runtime command, e.g. `[nsenter, --target, "1", --mount, --]`. */
    hostExec: z.array(z.string().min(1)).default([]),
    /** containerd socket. */
    address: z.string().min(1).default('/run/containerd/containerd.sock'),
    /** containerd namespace. */
    namespace: z.string().min(1).default('k8s.io'),
    /** certs.d the runtime reads. */
    hostsDir: z.string().min(1).default('/etc/containerd/certs.d'),
    /** Registries pull checks may name; empty: the hosts of the trust source. */
    allowedRegistries: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

export const configSchema = z.strictObject({
  nodeName: z.string().min(1).optional(),
  nodeIP: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  trust: trustSchema,
  hosts: hostsSchema,
  server: serverSchema,
  backup: backupSchema,
  pull: pullSchema,
});

/** The configuration as written in the file (everything optional). */
export type ConfigInput = z.input<typeof configSchema>;

/** The loaded configuration, defaults filled in, plus what the environment gives. */
export type Config = z.output<typeof configSchema> & {
  /** Node name: `nodeName`, else `NODE_NAME`, else the host name. */
  readonly nodeName: string;
  /** The agent's own pod, for Events (`POD_NAME`/`POD_NAMESPACE`). */
  readonly pod?: { readonly name: string; readonly namespace: string };
  /** The agent pod's IP (`POD_IP`), when known. */
  readonly podIP?: string | undefined;
};
