import type { Logger } from '../lib/logger.js';

/** The agent's stop signals; the demo adds SIGHUP (its terminal closing). */
const defaultStopSignals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * SIGTERM/SIGINT (or the given `signals`) → stop() once → exit 0. A second
 * signal during shutdown exits at once (an operator pressing Ctrl-C twice
 * means it).
 */
export function stopOnSignals(
  stop: () => Promise<void>,
  logger: Logger,
  signals: readonly NodeJS.Signals[] = defaultStopSignals,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        logger.flush();
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}

/** Something started that can be stopped: the agent. */
export interface Stoppable {
  stop(): Promise<void>;
}

export interface StartUntilSignalOptions {
  /** Runs after stop, also when start or stop failed (the demo's sandbox). */
  readonly onStopped?: () => Promise<void>;
  /** Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * Starts with the signal handlers already installed, so a SIGTERM/SIGINT
 * that comes while `start` is still running (key generation, listeners)
 * lets it finish, then stops what it started and exits 0, never the
 * default kill (143).
 */
export function startUntilSignal<T extends Stoppable>(
  start: () => Promise<T>,
  logger: Logger,
  options: StartUntilSignalOptions = {},
): Promise<T> {
  const { promise: started, resolve, reject } = Promise.withResolvers<T>();
  // Handlers first: start's synchronous part runs before it yields, and a
  // signal in it would otherwise still meet the default action.
  stopOnSignals(
    async () => {
      try {
        await (await started).stop();
      } finally {
        await options.onStopped?.();
      }
    },
    logger,
    options.signals,
  );
  start().then(resolve, reject);
  return started;
}
