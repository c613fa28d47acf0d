import type { DesiredRegistry } from '../trust/plan.js';
import { daysUntil, EXPIRY_WARN_DAYS, fail, ok, warn, type CheckResult } from './check.js';

/**
 * The source's CA certificates: expired (fail: containerd rejects the chain),
 * expiring within 30 days (warn), not a CA (warn: a leaf pasted where its
 * issuer belongs only works while that exact leaf is served).
 */
export function checkCertificates(
  registries: readonly DesiredRegistry[],
  now: Date,
  sourceHint: string,
): CheckResult[] {
  return registries.flatMap((r) =>
    r.bundle.certificates.flatMap((c) => {
      const subject = `${r.host}: ${c.subject} (${c.fingerprint.slice(0, 23)})`;
      const days = daysUntil(c.notAfter, now);
      const until = c.notAfter.toISOString();
      const renew = `put the renewed CA in key "${r.key}": ${sourceHint}`;
      const expiry =
        days < 0
          ? fail('certificate.expiry', subject, `expired ${until}`, renew)
          : days < EXPIRY_WARN_DAYS
            ? warn(
                'certificate.expiry',
                subject,
                `expires in ${Math.floor(days)} days (${until})`,
                renew,
              )
            : ok('certificate.expiry', subject, `valid until ${until} (${Math.floor(days)} days)`);
      const ca = c.isCA
        ? ok('certificate.ca', subject, 'is a CA certificate')
        : warn(
            'certificate.ca',
            subject,
            'not a CA certificate (basicConstraints CA:FALSE): trusting a leaf breaks when the registry certificate is renewed',
            `put the issuing CA instead in key "${r.key}": ${sourceHint}`,
          );
      return [expiry, ca];
    }),
  );
}
