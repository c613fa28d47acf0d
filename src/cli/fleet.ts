import { Option, type Command } from 'commander';
import { failedNodes, type NodeResult } from '../fleet/fan-out.js';
import { runFleetBackup } from '../fleet/backup.js';
import { removePartialDownloadsSync } from '../fleet/download.js';
import { withProblems } from '../fleet/discovery.js';
import { createProgressView } from '../fleet/progress.js';
import { pullCheckRows, runFleetPullCheck } from '../fleet/pull-check.js';
import { openFleetSession, type FleetSession } from '../fleet/session.js';
import { runFleetStatus } from '../fleet/status.js';
import {
  backupHeader,
  backupRows,
  formatDuration,
  renderTable,
  statusHeader,
  statusRows,
} from '../fleet/tables.js';
import type { NodeSelection } from '../fleet/targets.js';
import { ConfigError } from '../lib/errors.js';
import { fleetKubeconfig, fleetKubeconfigHint } from './env.js';

interface CommonOptions {
  kubeconfig?: string;
  namespace: string;
  tokenFile?: string;
  caFile?: string;
  concurrency?: number;
  json?: boolean;
  selector?: string;
  nodes?: string;
}

type Default = 'control-plane' | 'all';

/** `--concurrency` bounds something different per command; each help says what. */
function common(cmd: Command, defaultNodes: Default, concurrency: string): Command {
  const which =
    defaultNodes === 'control-plane'
      ? 'nodes labelled node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master'
      : 'all nodes';
  return cmd
    .option('--selector <labels>', `node label selector (default: ${which})`)
    .option('--nodes <a,b>', 'node names, instead of a selector')
    .option('--namespace <ns>', 'namespace of the node-ca pods', 'image-registry-system')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--token-file <file>', 'bearer token for the agents (default: the kubeconfig user)')
    .option(
      '--ca-file <file>',
      "CA that signs the agents' certificates (default: accept self-signed)",
    )
    .addOption(new Option('--concurrency <n>', concurrency).argParser(positiveInt))
    .option('--json', 'one JSON document on stdout, a result per node');
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(`--concurrency must be a positive integer, not ${value}`);
  return n;
}

function selectionOf(opts: CommonOptions, fallback: Default): NodeSelection {
  if (opts.nodes !== undefined && opts.selector !== undefined)
    throw new ConfigError('give --nodes or --selector, not both');
  if (opts.nodes !== undefined)
    return {
      kind: 'names',
      names: opts.nodes
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    };
  if (opts.selector !== undefined) return { kind: 'selector', selector: opts.selector };
  return { kind: fallback };
}

async function openSession(opts: CommonOptions, fallback: Default): Promise<FleetSession> {
  const session = await openFleetSession({
    kubeconfig: opts.kubeconfig ?? fleetKubeconfig(),
    kubeconfigHint: fleetKubeconfigHint,
    namespace: opts.namespace,
    selection: selectionOf(opts, fallback),
    tokenFile: opts.tokenFile,
    caFile: opts.caFile,
  });
  if (!session.transport.verifiesCertificates)
    process.stderr.write(
      "node-ca fleet: agents' TLS certificates are not verified (self-signed); pass --ca-file to verify them\n",
    );
  return session;
}

/** The human table goes to stdout, or to stderr when stdout carries the JSON document. */
interface Outcome<T> {
  readonly command: string;
  readonly results: readonly NodeResult<T>[];
  readonly table: string;
  readonly extra?: Record<string, unknown>;
}

function finish<T>(opts: CommonOptions, { command, results, table, extra = {} }: Outcome<T>): void {
  const failed = failedNodes(results);
  if (opts.json === true) {
    const nodes = results.map((r) => ({
      node: r.node,
      ok: r.ok,
      ...(r.ok ? {} : { error: r.error }),
      ...(r.value ?? {}),
    }));
    process.stdout.write(
      `${JSON.stringify({ command, ok: failed.length === 0, failedNodes: failed, ...extra, nodes }, null, 2)}\n`,
    );
    process.stderr.write(table);
  } else process.stdout.write(table);
  if (failed.length > 0) {
    process.stderr.write(
      `node-ca fleet ${command}: failed on ${failed.length} of ${results.length} nodes: ${failed.join(', ')}\n`,
    );
    process.exitCode = 1;
  }
}

const stopSignals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof stopSignals;

/**
 * Ctrl-C, SIGTERM (a CI timeout, a Kubernetes Job stopped) and SIGHUP abort:
 * running backups are canceled with DELETE; a second signal exits at once,
 * removing the `.partial` files of downloads in progress. `process.on`, not
 * `once`: a library that sees no other listener re-raises the signal.
 */
function abortOnInterrupt(): { signal: AbortSignal; exitCode(): number; dispose(): void } {
  const controller = new AbortController();
  let first: StopSignal | undefined;
  const on = (name: StopSignal) => {
    if (controller.signal.aborted) {
      removePartialDownloadsSync();
      process.exit(stopSignals[name]);
    }
    first = name;
    process.stderr.write(
      `node-ca fleet: ${name === 'SIGINT' ? 'interrupted' : name}; canceling running backups (again to quit now)\n`,
    );
    controller.abort();
  };
  const handlers = (Object.keys(stopSignals) as StopSignal[]).map((name) => {
    const handler = () => {
      on(name);
    };
    process.on(name, handler);
    return () => process.off(name, handler);
  });
  return {
    signal: controller.signal,
    exitCode: () => (first === undefined ? 0 : stopSignals[first]),
    dispose: () => {
      for (const off of handlers) off();
    },
  };
}

interface BackupOptions extends CommonOptions {
  outDir?: string;
  allowChanges?: boolean;
  source?: string;
}

async function backupAction(opts: BackupOptions): Promise<void> {
  const session = await openSession(opts, 'control-plane');
  const interrupt = abortOnInterrupt();
  const begin = Date.now();
  const nodes = [
    ...session.clients.map((c) => c.node),
    ...session.problems.map((p) => p.node),
  ].sort();
  process.stderr.write(
    `node-ca fleet backup: ${nodes.length} nodes (${session.selector}): ${nodes.join(', ')}\n`,
  );
  const view = createProgressView(
    process.stderr,
    session.clients.map((c) => c.node),
  );
  try {
    const results = await runFleetBackup(session.clients, {
      source: opts.source,
      allowChanges: opts.allowChanges,
      outDir: opts.outDir,
      concurrency: opts.concurrency,
      signal: interrupt.signal,
      onJob: (node, job) => {
        view.update(node, job);
      },
      onDownload: (node, phase) => {
        view.note(node, phase === 'start' ? 'downloading' : '');
      },
    });
    view.close();
    const all = withProblems(results, session.problems);
    const elapsed = Date.now() - begin;
    const table = `${renderTable(backupHeader, backupRows(all))}total ${formatDuration(elapsed)}\n`;
    finish(opts, {
      command: 'backup',
      results: all,
      table,
      extra: { selector: session.selector, durationMs: elapsed },
    });
    if (interrupt.signal.aborted) process.exitCode = interrupt.exitCode();
  } finally {
    view.close();
    interrupt.dispose();
    session.close();
  }
}

async function pullCheckAction(opts: CommonOptions & { image?: string[] }): Promise<void> {
  const images = opts.image ?? [];
  if (images.length === 0) throw new ConfigError('give at least one --image REF');
  const session = await openSession(opts, 'all');
  try {
    const results = withProblems(
      await runFleetPullCheck(session.clients, images, { concurrency: opts.concurrency }),
      session.problems,
    );
    const table = renderTable(['NODE', ...images], pullCheckRows(images, results));
    finish(opts, {
      command: 'pull-check',
      results,
      table,
      extra: { selector: session.selector, images },
    });
  } finally {
    session.close();
  }
}

async function statusAction(opts: CommonOptions): Promise<void> {
  const session = await openSession(opts, 'all');
  try {
    const results = withProblems(
      await runFleetStatus(session.clients, { concurrency: opts.concurrency }),
      session.problems,
    );
    finish(opts, {
      command: 'status',
      results,
      table: renderTable(statusHeader, statusRows(results)),
      extra: { selector: session.selector },
    });
  } finally {
    session.close();
  }
}

export function registerFleetCommand(program: Command): void {
  const fleet = program
    .command('fleet')
    .description("act on every node's node-ca agent through the Kubernetes API");
  common(
    fleet.command('backup'),
    'control-plane',
    'archives downloaded at a time with --out-dir (default: all); the backups always start together',
  )
    .description(
      'back up MinIO on every selected node at once, optionally download and re-check the archives',
    )
    .option('--out-dir <dir>', 'download each archive with its .sha256/.manifest into DIR/<node>/')
    .option('--allow-changes', 'accept files that changed during the backup (a live MinIO)')
    .option('--source <name>', 'backup source (default: minio)')
    .action(backupAction);
  common(fleet.command('pull-check'), 'all', 'nodes checked at a time (default: all)')
    .description('check that images pull on every selected node')
    // No default value: commander would print `(default: [])`.
    .option(
      '--image <ref>',
      'image reference (repeatable, at least one)',
      (v: string, acc?: string[]) => [...(acc ?? []), v],
    )
    .action(pullCheckAction);
  common(fleet.command('status'), 'all', 'nodes queried at a time (default: all)')
    .description("every node's trust status; flags CA sets that differ from the majority")
    .action(statusAction);
}
