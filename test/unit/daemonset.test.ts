import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Pod, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { certsDirTargets } from '../../src/agent.js';
import { parseConfig } from '../../src/config/load.js';
import {
  daemonsetDir,
  readKustomization,
  readManifests,
  renderKustomizationByHand,
  renderWithKubectl,
  type K8sObject,
} from '../support/manifests.js';

type Model = new (data: never) => { validate(): void };
const models: Record<string, Model> = {
  'apps/v1/DaemonSet': DaemonSet,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Pod': Pod,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
};

/** Validates against the Kubernetes OpenAPI schema (kubernetes-models); throws on a violation. */
function validateObject(o: K8sObject): void {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${o.apiVersion}/${o.kind}`);
  new Model(o as never).validate();
}

const manifestFiles = readdirSync(daemonsetDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'config.yaml');
const kubectlRender = renderWithKubectl();
const rendered = kubectlRender ?? renderKustomizationByHand();
const namespace = 'image-registry-system';

function find(kind: string, objects = rendered): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { privileged?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  configMap?: { name: string; optional?: boolean };
  emptyDir?: object;
}
interface PodSpec {
  serviceAccountName?: string;
  priorityClassName?: string;
  hostPID?: boolean;
  terminationGracePeriodSeconds?: number;
  tolerations?: { operator?: string; key?: string; effect?: string }[];
  containers: Container[];
  volumes?: Volume[];
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

const ds = find('DaemonSet')[0] as K8sObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    updateStrategy: { type: string; rollingUpdate?: { maxUnavailable?: string | number } };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};
const pod = ds.spec.template.spec;
const container = pod.containers[0]!;
const agentConfigMap = find('ConfigMap').find((c) => c.metadata.name.startsWith('node-ca-config')) as K8sObject & {
  data: Record<string, string>;
};
const agentConfig = parseConfig(parseYaml(agentConfigMap.data['config.yaml']!), { NODE_NAME: 'node-1', NODE_IP: '10.0.0.1' }, 'ConfigMap node-ca-config');

describe('daemonset/ manifests', () => {
  it.each(manifestFiles)('%s parses and every object passes the Kubernetes schema', (file) => {
    const objects = readManifests(path.join(daemonsetDir, file));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) validateObject(o);
  });

  it('the rendered kustomization passes the Kubernetes schema too', () => {
    for (const o of rendered) validateObject(o);
    expect(rendered.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Role', 'RoleBinding', 'ServiceAccount'],
    );
  });

  it('lists only resources that exist, and keeps operator-rbac.yaml and the Namespace out', () => {
    const k = readKustomization();
    expect(k.namespace).toBe(namespace);
    for (const r of k.resources ?? []) expect(manifestFiles).toContain(r);
    expect(k.resources).not.toContain('operator-rbac.yaml');
    expect(k.resources).not.toContain('cleanup-pod.yaml');
    expect(find('Namespace')).toEqual([]);
  });

  it('sets the namespace on every namespaced object and on the ServiceAccount subjects', () => {
    for (const o of rendered) {
      if (o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
    }
    for (const b of [...find('RoleBinding'), ...find('ClusterRoleBinding')])
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'node-ca', namespace }]);
  });

  // kubectl is part of the machine image (CI included); a missing kubectl fails here instead of skipping.
  it('renders with kubectl kustomize the same objects as the hand renderer', () => {
    expect(kubectlRender, 'kubectl kustomize daemonset/ must render').toBeDefined();
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`;
    expect(kubectlRender!.map(key).sort()).toEqual(renderKustomizationByHand().map(key).sort());
    const volume = pod.volumes?.find((v) => v.name === 'config');
    expect(volume?.configMap?.name).toBe(agentConfigMap.metadata.name);
  });
});

describe('the DaemonSet', () => {
  it('is selected and labelled app.kubernetes.io/name=node-ca (what fleet discovery looks for)', () => {
    expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'node-ca' });
    expect(ds.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('node-ca');
    expect(ds.metadata.labels?.['app.kubernetes.io/name']).toBe('node-ca');
  });

  it('runs everywhere: system-node-critical, every taint tolerated, RollingUpdate 10%', () => {
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
  });

  it('is privileged with hostPID and a read-only root filesystem, as the node-ca ServiceAccount', () => {
    expect(pod.hostPID).toBe(true);
    expect(container.securityContext).toMatchObject({ privileged: true, readOnlyRootFilesystem: true });
    expect(pod.serviceAccountName).toBe('node-ca');
  });

  it('gets node and pod identity from the Downward API', () => {
    const fieldPaths = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(fieldPaths).toMatchObject({
      NODE_NAME: 'spec.nodeName',
      NODE_IP: 'status.hostIP',
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      POD_IP: 'status.podIP',
    });
  });

  it('exposes port api on the configured listen port, probed over HTTPS', () => {
    const api = container.ports?.find((p) => p.name === 'api');
    expect(api?.containerPort).toBe(Number(agentConfig.server.listen.split(':').pop()));
    expect(agentConfig.server.tls.mode).not.toBe('disabled');
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'api', scheme: 'HTTPS' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'api', scheme: 'HTTPS' });
  });

  it('requests little and limits memory', () => {
    expect(container.resources?.requests).toEqual({ cpu: '10m', memory: '128Mi' });
    expect(container.resources?.limits?.memory).toMatch(/^\d+Mi$/);
  });

  it('runs the agent command on the mounted config', () => {
    expect(container.args).toEqual(['agent', '--config', '/etc/node-ca/config.yaml']);
    expect(container.image).toMatch(/^node-ca:\d+\.\d+\.\d+$/);
  });

  it.each([
    ['/etc/containerd/certs.d', 'DirectoryOrCreate'],
    ['/etc/docker/certs.d', 'DirectoryOrCreate'],
    ['/etc/hosts', 'File'],
    ['/cpaas', 'DirectoryOrCreate'],
    ['/run/containerd', 'DirectoryOrCreate'],
    ['/var/lib/node-ca', 'DirectoryOrCreate'],
    ['/var/run/node-ca', 'DirectoryOrCreate'],
  ])('mounts host path %s (%s) into the container', (hostPath, type) => {
    const volume = pod.volumes?.find((v) => v.hostPath?.path === hostPath);
    expect(volume?.hostPath?.type).toBe(type);
    const mount = container.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount, `mount of ${hostPath}`).toBeDefined();
    expect(mount?.readOnly ?? false).toBe(false);
  });

  it('mounts every volume exactly once and nothing undeclared', () => {
    const volumes = (pod.volumes ?? []).map((v) => v.name).sort();
    const mounts = (container.volumeMounts ?? []).map((m) => m.name).sort();
    expect(mounts).toEqual(volumes);
    expect(new Set(mounts).size).toBe(mounts.length);
  });

  it('mounts the CA ConfigMap, optional, at the configured trust.sourceDir', () => {
    const volume = pod.volumes?.find((v) => v.configMap?.name === 'image-registry-certificates');
    expect(volume?.configMap?.optional).toBe(true);
    const mount = container.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.mountPath).toBe(agentConfig.trust.sourceDir);
    expect(mount?.readOnly).toBe(true);
  });

  it('points every host path of the config at a writable mount of the right host path', () => {
    const mountOf = (p: string) =>
      container.volumeMounts?.filter((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const hostPathOf = (p: string) => {
      const m = mountOf(p)!;
      const v = pod.volumes?.find((x) => x.name === m.name);
      return v?.hostPath === undefined ? undefined : path.join(v.hostPath.path, path.relative(m.mountPath, p));
    };
    expect(hostPathOf(agentConfig.trust.containerdCertsDir)).toBe('/etc/containerd/certs.d');
    expect(hostPathOf(agentConfig.trust.dockerCertsDir)).toBe('/etc/docker/certs.d');
    expect(hostPathOf(agentConfig.hosts.file)).toBe('/etc/hosts');
    expect(hostPathOf(agentConfig.trust.containerdConfig)).toBe('/etc/containerd/config.toml');
    expect(hostPathOf(agentConfig.backup.sources.minio!)).toBe('/cpaas/minio');
    expect(hostPathOf(agentConfig.backup.dir)).toBe('/cpaas/backup');
    expect(hostPathOf(agentConfig.backup.stateDir)).toBe('/var/lib/node-ca');
    expect(hostPathOf(agentConfig.server.socket)).toBe('/var/run/node-ca/agent.sock');
    expect(hostPathOf(agentConfig.pull.address)).toBe('/run/containerd/containerd.sock');
    for (const p of [agentConfig.trust.containerdCertsDir, agentConfig.hosts.file, agentConfig.backup.dir, agentConfig.server.socket])
      expect(mountOf(p)?.readOnly ?? false, p).toBe(false);
  });
});

describe('the agent ConfigMap', () => {
  it('holds a config the agent loader accepts, with the SPEC defaults for this platform', () => {
    expect(agentConfig.trust.sourceDir).toBe('/etc/registry-ca');
    expect(agentConfig.nodeName).toBe('node-1');
    expect(agentConfig.server.auth.mode).toBe('kubernetes');
    expect(agentConfig.hosts.services).toEqual([{ namespace, name: 'image-registry' }]);
    expect(agentConfig.pull.hostExec).toEqual(['nsenter', '--target', '1', '--mount', '--net', '--']);
  });
});

describe('RBAC', () => {
  const rbacObjects = [...rendered, ...readManifests(path.join(daemonsetDir, 'operator-rbac.yaml'))];
  const rulesOf = (kind: string, name: string) =>
    ((rbacObjects.find((o) => o.kind === kind && o.metadata.name === name) as { rules?: Rule[] } | undefined)?.rules ?? []);

  it('uses no wildcard anywhere', () => {
    for (const o of rbacObjects.filter((x) => x.kind === 'Role' || x.kind === 'ClusterRole'))
      for (const r of (o as unknown as { rules: Rule[] }).rules)
        for (const v of [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs, ...(r.resourceNames ?? [])])
          expect(v, `${o.kind}/${o.metadata.name}`).not.toContain('*');
  });

  it('lets the agent read only the one CA ConfigMap and the registry Service, in its namespace', () => {
    expect(rulesOf('Role', 'node-ca')).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['image-registry-certificates'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['services'], resourceNames: ['image-registry'], verbs: ['get', 'list', 'watch'] },
    ]);
  });

  it('lets the agent create TokenReviews, SubjectAccessReviews and Events, nothing more', () => {
    expect(rulesOf('ClusterRole', 'node-ca')).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
    ]);
  });

  it('binds the roles to the node-ca ServiceAccount', () => {
    for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
      const b = rbacObjects.find((o) => o.kind === kind && o.metadata.name === 'node-ca') as { roleRef?: { kind: string; name: string } } | undefined;
      expect(b?.roleRef).toMatchObject({ kind: kind.replace('Binding', ''), name: 'node-ca' });
    }
    expect(find('ServiceAccount').map((s) => s.metadata.name)).toEqual(['node-ca']);
  });

  it('gives the orchestrator example exactly the node-ca.alauda.io verbs of the SPEC plus discovery', () => {
    expect(rulesOf('ClusterRole', 'node-ca-operator')).toEqual([
      { apiGroups: ['node-ca.alauda.io'], resources: ['backups'], verbs: ['create', 'get', 'list', 'delete'] },
      { apiGroups: ['node-ca.alauda.io'], resources: ['pullchecks'], verbs: ['create'] },
      { apiGroups: ['node-ca.alauda.io'], resources: ['status'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ]);
  });
});

describe('the uninstall cleanup pod', () => {
  const cleanupPod = readManifests(path.join(daemonsetDir, 'cleanup-pod.yaml'))[0] as unknown as K8sObject & { spec: PodSpec & { nodeName: string } };
  const c = cleanupPod.spec.containers[0]!;

  it('runs `cleanup` on one named node with the agent image', () => {
    expect(c.args).toEqual(['cleanup']);
    expect(c.image).toBe(container.image);
    expect(cleanupPod.spec.nodeName).toBe('NODE_NAME_PLACEHOLDER');
    expect(cleanupPod.metadata.name).toContain('NODE_NAME_PLACEHOLDER');
    expect(cleanupPod.spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('mounts, writable, each host path at the default path cleanup uses without --config', () => {
    const defaults = parseConfig({}, { NODE_NAME: 'n' });
    const paths = [...certsDirTargets(defaults).map((t) => t.dir), defaults.hosts.file];
    expect(paths).toEqual(['/etc/containerd/certs.d', '/etc/docker/certs.d', '/etc/hosts']);
    for (const p of paths) {
      const mount = c.volumeMounts?.find((m) => m.mountPath === p);
      const volume = cleanupPod.spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.hostPath?.path, p).toBe(p);
      expect(mount?.readOnly ?? false).toBe(false);
    }
  });
});
