import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { watchFiles, type FileWatch } from './file-watch.js';
import { certificateFingerprint, loadTlsFiles, type TlsMaterial } from './tls.js';

export interface TlsReloadOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** What the server serves now (loaded at start). */
  readonly current: TlsMaterial;
  /** Installs a new pair, e.g. `server.setSecureContext`. */
  readonly apply: (material: TlsMaterial) => void;
  readonly logger: Logger;
}

/**
 * Reloads `tls.mode: files` when the files change. A half-written or
 * mismatched pair (cert-manager and the kubelet replace the two files one
 * after the other) is refused with a warning and the served pair is kept;
 * the next change event retries. New connections get the new pair, open
 * ones keep theirs.
 */
export async function watchTlsFiles(options: TlsReloadOptions): Promise<FileWatch> {
  let current = options.current;
  const log = options.logger;
  return watchFiles([options.certFile, options.keyFile], async () => {
    let next: TlsMaterial;
    try {
      next = await loadTlsFiles(options.certFile, options.keyFile);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'TLS files changed but cannot be used; keeping the served certificate');
      return;
    }
    if (next.cert === current.cert && next.key === current.key) return;
    options.apply(next);
    current = next;
    log.info({ certFile: options.certFile, fingerprint: certificateFingerprint(next.cert) }, 'TLS certificate reloaded');
  });
}
