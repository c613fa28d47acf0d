import { NodeCaError } from '../lib/errors.js';
import { isRegistryAllowed, parseImageReference, type ImageReference } from './reference.js';

/** Images per request (SPEC: 1–20). */
export const maxImagesPerRequest = 20;

/**
 * Validates a request's images before any process starts: the reference
 * grammar, then the registry against the allowed list. Throws a 400
 * NodeCaError naming the first offending image. Duplicates are checked once.
 */
export function validatePullCheckImages(images: readonly string[], allowedRegistries: readonly string[]): ImageReference[] {
  if (images.length === 0 || images.length > maxImagesPerRequest)
    throw new NodeCaError('BAD_REQUEST', `images must hold 1 to ${maxImagesPerRequest} references, got ${images.length}`);
  const refs = new Map<string, ImageReference>();
  for (const image of images) {
    const parsed = parseImageReference(image);
    if (!parsed.ok)
      throw new NodeCaError('INVALID_IMAGE_REFERENCE', `"${printable(image)}" is not an image reference: ${parsed.reason}`, {
        details: { image: printable(image) },
      });
    if (!isRegistryAllowed(parsed.ref.domain, allowedRegistries))
      throw new NodeCaError('REGISTRY_NOT_ALLOWED', registryMessage(parsed.ref.domain, allowedRegistries), {
        details: { image, registry: parsed.ref.domain },
      });
    refs.set(parsed.ref.normalized, parsed.ref);
  }
  return [...refs.values()];
}

function registryMessage(domain: string, allowed: readonly string[]): string {
  const list = allowed.length === 0 ? 'none (the trust source has no hosts yet)' : allowed.join(', ');
  return `registry "${domain}" is not allowed for pull checks; allowed: ${list}`;
}

// Echo at most 200 characters, control characters escaped, so a reply never carries raw bytes.
function printable(s: string): string {
  const cut = s.length > 200 ? `${s.slice(0, 200)}…` : s;
  return JSON.stringify(cut).slice(1, -1);
}
