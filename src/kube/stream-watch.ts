import { Watch, type KubeConfig } from '@kubernetes/client-node';

/** What a watch stream reports to its owner. */
export interface StreamHooks {
  /** Any event line arrived. */
  onEvent(): void;
  /** The server answered 200: the stream is open. */
  onOpen(): void;
  /**
   * The stream ended (err null: cleanly). `resume` hands the end to
   * ListWatch; the owner may delay it.
   */
  onEnd(err: unknown, livedMs: number, resume: () => void): void;
}

type Params = Record<string, string | number | boolean | undefined>;
type Callback = (phase: string, obj: unknown, raw?: unknown) => void;

/**
 * client-node's Watch, reporting when a stream opens, delivers and ends, so
 * connection state and backoff can be kept outside ListWatch (which says
 * nothing of either). Setup errors (an unreadable token file) become a
 * stream end instead of an unhandled rejection inside ListWatch.
 */
export function createStreamWatch(kc: KubeConfig, hooks: StreamHooks): Watch {
  return new (class extends Watch {
    override async watch(
      path: string,
      params: Params,
      callback: Callback,
      done: (err: unknown) => void,
    ): Promise<AbortController> {
      const stream = { ended: false };
      const opened = Date.now();
      const onEvent: Callback = (phase, obj, raw) => {
        hooks.onEvent();
        callback(phase, obj, raw);
      };
      const onDone = (err: unknown) => {
        stream.ended = true;
        hooks.onEnd(err, Date.now() - opened, () => {
          done(err);
        });
      };
      try {
        const controller = await super.watch(path, params, onEvent, onDone);
        if (!stream.ended) hooks.onOpen();
        return controller;
      } catch (err) {
        onDone(err);
        return new AbortController();
      }
    }
  })(kc);
}
