/**
 * The one error table (fastify's FST_ERR_* pattern): every error a client or
 * a user may see has a stable code and, where it crosses HTTP, a status.
 * Branch on `code`, never on message text.
 */
export const errorStatus = {
  BAD_REQUEST: 400,
  INVALID_IMAGE_REFERENCE: 400,
  REGISTRY_NOT_ALLOWED: 400,
  UNKNOWN_SOURCE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BACKUP_RUNNING: 409,
  BACKUP_NOT_FINISHED: 409,
  /** DELETE of a backup that another live process (a `node-ca backup`) runs. */
  BACKUP_NOT_CANCELABLE: 409,
  /** backup.dir or backup.stateDir has come to lie inside the source (a symlink made since start). */
  BACKUP_DIR_INSIDE_SOURCE: 409,
  /** The source holds a file name that is not UTF-8 (never written by MinIO). */
  SOURCE_UNSUPPORTED_NAME: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SOURCE_MISSING: 404,
  INSUFFICIENT_STORAGE: 507,
  AUTH_UNAVAILABLE: 503,
  NOT_READY: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export class NodeCaError extends Error {
  override readonly name = 'NodeCaError';
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = errorStatus[code];
    this.details = options?.details;
  }
}

/** A configuration problem: the process exits 2 with this message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

/** The text of any thrown value, for logs (never for HTTP answers). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A thrown value as an Error (non-Error throws wrapped with their text). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The result of a file-system call, or undefined when the path does not exist (ENOENT); other errors are thrown. */
export async function unlessMissing<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The errno code of a Node system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
