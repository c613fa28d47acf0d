import { Watch, type KubeConfig } from '@kubernetes/client-node';

/** What a watch stream reports to its owner. */
export interface StreamHooks {
  /** Any event line arrived (bookmarks included). */
  onEvent(): void;
  /** The server answered 200: the stream is open. */
  onOpen(): void;
  /**
   * The stream ended (err null: cleanly). `resume` hands the end to
   * ListWatch; the owner may delay it.
   */
  onEnd(err: unknown, livedMs: number, resume: () => void): void;
}

/** Time limits of one watch stream. */
export interface StreamLimits {
  /** Until the server answers the watch request. */
  readonly connectMs: number;
  /** The `timeoutSeconds` asked of the server for one stream (client-go: 5 to 10 minutes, random). */
  readonly serverTimeoutSeconds: () => number;
  /** How long past that timeout a silent stream is given before it counts as stalled. */
  readonly graceMs: number;
}

export const defaultStreamLimits: StreamLimits = {
  connectMs: 30_000,
  serverTimeoutSeconds: () => 300 + Math.floor(Math.random() * 300),
  graceMs: 30_000,
};

type Params = Record<string, string | number | boolean | undefined>;
type Callback = (phase: string, obj: unknown, raw?: unknown) => void;
interface Destroyable {
  destroy(): void;
}

/**
 * client-node's Watch, reporting when a stream opens, delivers and ends, so
 * connection state and backoff can be kept outside ListWatch (which says
 * nothing of either). Setup errors (an unreadable token file) become a
 * stream end instead of an unhandled rejection inside ListWatch.
 *
 * client-node sets no time limit on a watch (its 30 s signal is overwritten),
 * so a request to a stalled API server, or a stream a proxy keeps open but
 * silent, would hang for good. Each stream asks the server to end it after
 * `timeoutSeconds` (as client-go does) with bookmarks, and is cut here when the
 * server does not answer within `connectMs`, or stays silent past that timeout:
 * its connection (client-node makes an agent per request) is destroyed and
 * the stream ends with an error saying why, so the owner restarts it.
 */
export function createStreamWatch(kc: KubeConfig, hooks: StreamHooks, limits: StreamLimits = defaultStreamLimits): Watch {
  let agent: Destroyable | undefined;
  // kc as Watch sees it, keeping each request's agent so a stalled stream can be cut.
  const config = Object.create(kc) as KubeConfig;
  config.applyToFetchOptions = async (opts) => {
    const init = await kc.applyToFetchOptions(opts);
    agent = init.agent as Destroyable | undefined;
    return init;
  };
  return new (class extends Watch {
    override async watch(path: string, params: Params, callback: Callback, done: (err: unknown) => void): Promise<AbortController> {
      agent = undefined;
      const serverTimeout = limits.serverTimeoutSeconds();
      const guard = createGuard(() => agent);
      const opened = Date.now();
      const onEvent: Callback = (phase, obj, raw) => {
        guard.arm(serverTimeout * 1000 + limits.graceMs, `the watch stream stayed silent past its ${serverTimeout} s timeout`);
        hooks.onEvent();
        callback(phase, obj, raw);
      };
      const onDone = (err: unknown) => {
        const reported = guard.end(err);
        hooks.onEnd(reported, Date.now() - opened, () => {
          done(reported);
        });
      };
      guard.arm(limits.connectMs, `no answer from the API server in ${String(limits.connectMs / 1000)} s`);
      try {
        const controller = await super.watch(path, { ...params, timeoutSeconds: serverTimeout, allowWatchBookmarks: true }, onEvent, onDone);
        if (!guard.ended) {
          hooks.onOpen();
          guard.arm(serverTimeout * 1000 + limits.graceMs, `the watch stream stayed silent past its ${serverTimeout} s timeout`);
        }
        return controller;
      } catch (err) {
        onDone(err);
        return new AbortController();
      }
    }
  })(config);
}

/** One stream's stall timer: when it fires, the stream's connection is destroyed and its end says why. */
function createGuard(agentOf: () => Destroyable | undefined) {
  let timer: NodeJS.Timeout | undefined;
  let stalled: string | undefined;
  const guard = {
    ended: false,
    arm(ms: number, why: string) {
      clearTimeout(timer);
      if (guard.ended) return;
      timer = setTimeout(() => {
        stalled = why;
        agentOf()?.destroy();
      }, ms);
    },
    /** The stream's end: the stall, if that is what ended it, else `err`. */
    end(err: unknown): unknown {
      guard.ended = true;
      clearTimeout(timer);
      return stalled === undefined ? err : new Error(stalled);
    },
  };
  return guard;
}
