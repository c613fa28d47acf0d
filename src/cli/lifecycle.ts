import type { Logger } from '../lib/logger.js';

/**
 * SIGTERM/SIGINT → stop() once → exit 0. A second signal during shutdown
 * exits at once (an operator pressing Ctrl-C twice means it).
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
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
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Something started that can be stopped: the agent. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts with the signal handlers already installed, so a SIGTERM/SIGINT
 * that comes while `start` is still running (key generation, listeners)
 * lets it finish, then stops what it started and exits 0, never the
 * default kill (143). `onStopped` runs after stop (the demo's sandbox).
 */
export function startUntilSignal<T extends Stoppable>(
  start: () => Promise<T>,
  logger: Logger,
  onStopped: () => Promise<void> = () => Promise.resolve(),
): Promise<T> {
  const { promise: started, resolve, reject } = Promise.withResolvers<T>();
  // Handlers first: start's synchronous part runs before it yields, and a
  // signal in it would otherwise still meet the default action.
  stopOnSignals(async () => {
    await (await started).stop();
    await onStopped();
  }, logger);
  start().then(resolve, reject);
  return started;
}
