import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pushImage, startContainerd, type TestContainerd } from './containerd.js';
import { buildOciArchive, type OciImage } from './oci.js';
import type { makeCa } from './pki.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { createPrivateResolver, type PrivateResolver } from './resolver.js';

export interface PullFixture {
  readonly resolver: PrivateResolver;
  readonly registry: TestRegistry;
  readonly containerd: TestContainerd;
  /** Pushed to the registry, then removed from containerd's store, so a pull must fetch it. */
  readonly image: OciImage;
  stop(): Promise<void>;
}

/**
 * A TLS docker-registry serving `name` (resolved only in a private /etc/hosts),
 * a private containerd, and a one-layer image pushed with ctr: what an
 * end-to-end pull test starts from.
 */
export async function startPullFixture(
  dir: string,
  name: string,
  ca: ReturnType<typeof makeCa>,
): Promise<PullFixture> {
  const resolver = await createPrivateResolver(dir, [name]);
  const registry = await startRegistry({ dir: path.join(dir, 'registry'), name, ca });
  const containerd = await startContainerd({ dir: path.join(dir, 'containerd') });
  const caFile = path.join(dir, 'push-ca.crt');
  await writeFile(caFile, ca.cert);
  const image = await buildOciArchive({
    archive: path.join(dir, 'image.tar'),
    ref: `${registry.host}/e2e/hello:v1`,
  });
  await pushImage(containerd, { ...image, target: image.ref, caFile, prefix: resolver.prefix });
  await containerd.ctr(['images', 'rm', image.ref]);
  return {
    resolver,
    registry,
    containerd,
    image,
    async stop() {
      await containerd.stop();
      await registry.stop();
      await resolver.stop();
    },
  };
}
