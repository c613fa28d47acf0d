import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { serviceNames } from '../hosts/plan.js';
import { errnoCode, errorMessage } from '../lib/errors.js';
import { readCertsDir } from '../trust/apply.js';
import { planDesiredState, type DesiredState } from '../trust/desired.js';
import { CA_FILE } from '../trust/render.js';
import type { CertsDirTarget } from '../trust/reconciler.js';
import type { TrustSource } from '../trust/sources/source.js';
import { checkCertificates } from './certificates.js';
import { fail, ok, warn, type CheckResult } from './check.js';
import {
  checkContainerdConfig,
  isContainerd2,
  type ContainerdVersion,
} from './containerd-config.js';
import { readContainerdConfigFiles } from './containerd-imports.js';
import { agentNamespace, agentRestart, checkTrustFiles, type ObservedCertsDir } from './files.js';
import { checkHostsFile, type ServiceAddresses } from './hosts.js';
import { buildReport, type DoctorReport } from './report.js';
import { checkRegistryTls, type RegistryProbeCheck } from './tls.js';

export interface DoctorDeps {
  readonly config: Config;
  /** The same TrustSource the agent reads (`read()` only; never started). */
  readonly source: TrustSource;
  readonly services: ServiceAddresses;
  readonly containerdVersion: () => Promise<ContainerdVersion | undefined>;
  readonly probe?: RegistryProbeCheck;
  readonly now?: () => Date;
}

/** Runs every check once and builds the report (`node-ca doctor`, `GET /v1/trust`). */
export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const now = deps.now?.() ?? new Date();
  const { config } = deps;
  const checks: CheckResult[] = [...(await containerdChecks(deps))];
  const desired = await readDesired(deps.source, checks);
  if (desired !== undefined) {
    const hint = sourceHint(config);
    checks.push(
      ...checkTrustFiles({
        registries: desired.registries,
        invalid: desired.invalid,
        dirs: await observeDirs(config),
        sourceHint: hint,
        node: config.nodeName,
        agentNamespace: agentNamespace(config),
      }),
    );
    checks.push(...checkCertificates(desired.registries, now, hint));
    const restart = agentRestart(agentNamespace(config), config.nodeName);
    const tls = await Promise.all(
      desired.registries.map(async (r) =>
        checkRegistryTls(
          { ...(await installedCa(config, r.host)), sourceCa: r.bundle.pem },
          {
            now,
            agentRestart: restart,
            ...(deps.probe === undefined ? {} : { probe: deps.probe }),
          },
        ),
      ),
    );
    checks.push(...tls.flat());
  }
  checks.push(...(await hostsChecks(deps)));
  return buildReport(config.nodeName, checks);
}

async function containerdChecks(deps: DoctorDeps): Promise<CheckResult[]> {
  const { trust } = deps.config;
  if (trust.containerdCertsDir === '') return [];
  const version = await deps.containerdVersion();
  const [main, ...imports] = await readContainerdConfigFiles(
    trust.containerdConfig,
    readText,
    (doc) => isContainerd2(version, doc),
  );
  return checkContainerdConfig({
    file: trust.containerdConfig,
    text: main?.text,
    certsDir: trust.containerdCertsDir,
    version,
    imports,
  });
}

async function readDesired(
  source: TrustSource,
  checks: CheckResult[],
): Promise<DesiredState | undefined> {
  try {
    const snapshot = await source.read();
    const desired = planDesiredState(snapshot.entries);
    const n = desired.registries.length;
    checks.push(
      n === 0
        ? warn(
            'trust.source',
            source.description,
            `no valid registry key (revision ${snapshot.revision})`,
            'add the registry CA to the CA ConfigMap',
          )
        : ok(
            'trust.source',
            source.description,
            `${n} registr${n === 1 ? 'y' : 'ies'} (revision ${snapshot.revision})`,
          ),
    );
    return desired;
  } catch (err) {
    checks.push(
      fail(
        'trust.source',
        source.description,
        `cannot read the trust source: ${errorMessage(err)}`,
        'check trust.sourceDir / trust.configMap in the node-ca config and that the ConfigMap exists',
      ),
    );
    return undefined;
  }
}

async function observeDirs(config: Config): Promise<ObservedCertsDir[]> {
  const { containerdCertsDir, dockerCertsDir } = config.trust;
  const targets: CertsDirTarget[] = [
    ...(containerdCertsDir === ''
      ? []
      : [{ dir: containerdCertsDir, flavor: 'containerd' as const }]),
    ...(dockerCertsDir === '' ? [] : [{ dir: dockerCertsDir, flavor: 'docker' as const }]),
  ];
  return Promise.all(
    targets.map(async (t) => ({
      ...t,
      observed: (await isDirectory(t.dir)) ? await readCertsDir(t.dir) : undefined,
    })),
  );
}

/** The ca.crt containerd would use (Docker's when the containerd dir is disabled). */
async function installedCa(config: Config, host: string) {
  const dir =
    config.trust.containerdCertsDir !== ''
      ? config.trust.containerdCertsDir
      : config.trust.dockerCertsDir;
  const caPath = path.join(dir, host, CA_FILE);
  return { host, caPath, ca: dir === '' ? undefined : await readText(caPath) };
}

async function hostsChecks(deps: DoctorDeps): Promise<CheckResult[]> {
  const { file, clusterDomain, services } = deps.config.hosts;
  if (file === '') return [];
  const inputs = await Promise.all(
    services.map(async (s) => ({
      ...s,
      names: serviceNames(s, clusterDomain),
      addresses: await deps.services.lookup(s.namespace, s.name),
    })),
  );
  return checkHostsFile(file, await readText(file), inputs, agentNamespace(deps.config));
}

function sourceHint(config: Config): string {
  const cm = config.trust.configMap;
  return `kubectl -n ${cm.namespace} edit configmap ${cm.name}`;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') return undefined;
    throw err;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}
