import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './agent.js';

export const daemonsetDir = path.join(repoRoot, 'daemonset');

/** A Kubernetes object as parsed from YAML; tests narrow what they read. */
export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

/** Every document of a YAML file; a YAML error fails the caller. */
export function readManifests(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  configMapGenerator?: { name: string; files?: string[] }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export function readKustomization(): Kustomization {
  return readManifests(path.join(daemonsetDir, 'kustomization.yaml'))[0] as unknown as Kustomization;
}

const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'PriorityClass']);

/**
 * The kustomization rendered by hand, for machines without kubectl: the
 * listed resources, the generated ConfigMaps (no hash suffix), the namespace
 * on every namespaced object, and the image tags. Enough for the invariants;
 * `kubectl kustomize` is the real renderer when present.
 */
export function renderKustomizationByHand(): K8sObject[] {
  const k = readKustomization();
  const objects = (k.resources ?? []).flatMap((r) => readManifests(path.join(daemonsetDir, r)));
  for (const gen of k.configMapGenerator ?? []) objects.push(generatedConfigMap(gen));
  for (const o of objects) {
    if (k.namespace !== undefined && !clusterScoped.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const c of containersOf(o)) c.image = retag(c.image, k.images ?? []);
  }
  return objects;
}

function generatedConfigMap(gen: { name: string; files?: string[] }): K8sObject {
  const data: Record<string, string> = {};
  for (const f of gen.files ?? []) data[path.basename(f)] = readFileSync(path.join(daemonsetDir, f), 'utf8');
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: gen.name }, data };
}

function retag(image: string, images: NonNullable<Kustomization['images']>): string {
  const rule = images.find((i) => i.name === image.replace(/:[^:/]+$/, ''));
  if (rule === undefined) return image;
  return `${rule.newName ?? rule.name}${rule.newTag === undefined ? '' : `:${rule.newTag}`}`;
}

/** The containers of a workload's pod template. */
export function containersOf(o: K8sObject): { image: string; [k: string]: unknown }[] {
  const spec = (o.spec as { template?: { spec?: { containers?: { image: string }[] } } } | undefined)?.template?.spec;
  return spec?.containers ?? [];
}

/** `kubectl kustomize daemonset/` when kubectl is installed, else undefined. */
export function renderWithKubectl(): K8sObject[] | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  const kubectl = dirs.map((d) => path.join(d, 'kubectl')).find((p) => existsSync(p));
  if (kubectl === undefined) return undefined;
  const out = execFileSync(kubectl, ['kustomize', daemonsetDir], { encoding: 'utf8', timeout: 30_000 });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}
