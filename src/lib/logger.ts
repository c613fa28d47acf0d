import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout (or a given sink, which tests use to assert fields).
 * Anything that looks like a credential is redacted at the source.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'node-ca' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}
