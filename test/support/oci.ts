import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** A tiny single-layer OCI image written as an OCI archive (oci-layout, index.json, blobs). */
export interface OciImage {
  /** Path of the OCI archive tar. */
  readonly archive: string;
  /** The manifest digest, what a registry returns as `Docker-Content-Digest`. */
  readonly manifestDigest: string;
  /** `name:tag` the archive names (containerd's `io.containerd.image.name`). */
  readonly ref: string;
}

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le' };

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function tarOf(files: readonly { name: string; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of files) pack.entry({ name: f.name, size: f.data.length, mode: 0o644, mtime: new Date(0) }, f.data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Builds the image: one gzip layer holding `hello.txt` with `content`, config, manifest, index. */
export async function buildOciArchive(options: { archive: string; ref: string; content?: string }): Promise<OciImage> {
  const layerTar = await tarOf([{ name: 'hello.txt', data: Buffer.from(options.content ?? 'hello from node-ca tests\n') }]);
  const layer = gzipSync(layerTar);
  const platform = { architecture: goArch[process.arch] ?? process.arch, os: 'linux' };
  const config = Buffer.from(
    JSON.stringify({ ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const tag = options.ref.slice(options.ref.lastIndexOf(':') + 1);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          platform,
          annotations: { 'io.containerd.image.name': options.ref, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, data: b });
  const archive = await tarOf([
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', data: index },
    blob(layer),
    blob(config),
    blob(manifest),
  ]);
  await writeFile(options.archive, archive);
  return { archive: options.archive, manifestDigest: sha256(manifest), ref: options.ref };
}
