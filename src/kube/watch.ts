import {
  ERROR,
  ListWatch,
  type KubernetesListObject,
  type V1ConfigMap,
  type V1Service,
} from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from './backoff.js';
import { withDeadline, type KubeClient } from './client.js';
import { describeApiError } from './errors.js';
import { createStreamWatch } from './stream-watch.js';

/** A stream that lived this long was healthy: it ends with the server's timeout, and the backoff starts over. */
const healthyStreamMs = 60_000;

/** What `/v1/status` shows of one watch. */
export interface WatchState {
  readonly watch: string;
  /** A watch stream is open now. */
  readonly connected: boolean;
  /** The object has been listed at least once: `current()` is knowledge, not a guess. */
  readonly synced: boolean;
  readonly lastError: string | null;
  readonly lastEventTime: string | null;
  readonly restarts: number;
}

/** One Kubernetes object, listed then watched; its last known state survives API errors. */
export interface ObjectWatch<T> {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The object as last seen; undefined when absent (or before the first list: see `synced`). */
  current(): T | undefined;
  state(): WatchState;
}

const kinds = {
  services: (c: KubeClient, namespace: string, fieldSelector: string) =>
    c.core.listNamespacedService({ namespace, fieldSelector }, withDeadline()),
  configmaps: (c: KubeClient, namespace: string, fieldSelector: string) =>
    c.core.listNamespacedConfigMap({ namespace, fieldSelector }, withDeadline()),
} as const;
type Kind = keyof typeof kinds;
type ObjectOf<K extends Kind> = K extends 'services' ? V1Service : V1ConfigMap;

export interface ObjectWatchOptions<K extends Kind> {
  readonly client: KubeClient;
  readonly resource: K;
  readonly namespace: string;
  readonly name: string;
  /** Called (possibly in bursts) when the object may have changed, and after every successful list. */
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly backoff?: BackoffPolicy;
  readonly now?: () => Date;
}

/**
 * A single-object informer: client-node's ListWatch, built here because
 * `makeInformer` takes no field selector, scoped with
 * `fieldSelector=metadata.name=<name>` in one namespace (one light watch per
 * object per node; never a cluster-wide list). ListWatch resumes from the
 * last resourceVersion and relists on 410 Gone by itself, but stops for good
 * on any other error: restarting it, with jittered exponential backoff, is
 * ours. Its object cache is kept across restarts, so an outage never looks
 * like a deletion.
 */
export function createObjectWatch<K extends Kind>(
  o: ObjectWatchOptions<K>,
): ObjectWatch<ObjectOf<K>> {
  const id = `${o.resource}/${o.namespace}/${o.name}`;
  const now = o.now ?? (() => new Date());
  const policy = o.backoff ?? defaultBackoff;
  let connected = false;
  let synced = false;
  let stopped = false;
  let lastError: string | null = null;
  let lastEventTime: string | null = null;
  let connects = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const listFn = async () => {
    try {
      const list = (await kinds[o.resource](
        o.client,
        o.namespace,
        `metadata.name=${o.name}`,
      )) as KubernetesListObject<ObjectOf<K>>;
      // The field selector is the server's promise; the filter is ours.
      list.items = list.items.filter(
        (i) => i.metadata?.name === o.name && i.metadata.namespace === o.namespace,
      );
      synced = true;
      lastEventTime = now().toISOString();
      setImmediate(() => {
        o.onChange();
      });
      return list;
    } catch (err) {
      o.metrics.apiErrors.inc({ operation: `list ${o.resource}` });
      throw err;
    }
  };

  const watch = createStreamWatch(o.client.kubeConfig, {
    onEvent: () => {
      lastEventTime = now().toISOString();
    },
    onOpen: () => {
      connected = true;
    },
    onEnd: (err, livedMs, resume) => {
      connected = false;
      // The backoff starts over only after a stream that lived (client-go waits
      // about as long): a server or proxy that accepts and then drops every
      // stream at once gets a growing delay, not a steady retry every half second.
      if (livedMs >= healthyStreamMs) failures = 0;
      if (err === null || err === undefined) closedCleanly(livedMs, resume);
      else resume();
    },
  });

  const informer = new ListWatch<ObjectOf<K>>(
    `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/${o.resource}`,
    watch,
    listFn,
    false,
    undefined,
    `metadata.name=${o.name}`,
  );
  for (const verb of ['add', 'update', 'delete'] as const)
    informer.on(verb, () => {
      o.onChange();
    });
  informer.on('connect', () => {
    connects += 1;
    if (connects > 1) o.metrics.watchRestarts.inc({ watch: id });
  });
  informer.on(ERROR, (err: unknown) => {
    connected = false;
    if (stopped) return;
    lastError = describeApiError(err);
    o.metrics.apiErrors.inc({ operation: `watch ${o.resource}` });
    scheduleRestart();
  });

  // A stream the server ends cleanly is resumed at once by ListWatch; one that
  // keeps ending right after it opened (a proxy timeout) would make that a hot loop.
  function closedCleanly(livedMs: number, resume: () => void) {
    if (stopped || livedMs >= healthyStreamMs) {
      resume();
      return;
    }
    failures += 1;
    timer = setTimeout(resume, backoffDelay(failures, policy));
  }

  function scheduleRestart() {
    failures += 1;
    const delay = backoffDelay(failures, policy);
    o.logger.warn(
      { watch: id, err: lastError, retryInMs: delay },
      'Kubernetes list or watch failed; restarting with backoff, last known state kept',
    );
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!stopped) void informer.start();
    }, delay);
  }

  return {
    id,
    async start() {
      stopped = false;
      await informer.start();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
    current: () => (synced ? informer.get(o.name, o.namespace) : undefined),
    state: () => ({
      watch: id,
      connected,
      synced,
      lastError,
      lastEventTime,
      restarts: Math.max(0, connects - 1),
    }),
  };
}

/** Aggregates watches into the `api` part of `/v1/status`. */
export function buildApiStatus(server: string, watches: readonly { state(): WatchState }[]) {
  const states = watches.map((w) => w.state());
  const times = states.flatMap((s) => (s.lastEventTime === null ? [] : [s.lastEventTime])).sort();
  return {
    server,
    connected: states.length > 0 && states.every((s) => s.connected),
    lastError: states.find((s) => s.lastError !== null)?.lastError ?? null,
    lastEventTime: times.at(-1) ?? null,
    watches: states,
  };
}
