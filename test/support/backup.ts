import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loopbackServer } from './agent.js';

/** What the agent config needs for a backup test on loopback. */
export function backupAgentConfig(root: string, extra: { minFreePercent?: number; backupDir?: string } = {}) {
  return {
    nodeIP: '10.1.2.3',
    trust: { sourceDir: path.join(root, 'ca'), containerdCertsDir: '', dockerCertsDir: '' },
    hosts: { file: '' },
    server: loopbackServer,
    backup: {
      sources: { minio: path.join(root, 'src'), other: path.join(root, 'missing') },
      dir: extra.backupDir ?? path.join(root, 'backup'),
      stateDir: path.join(root, 'state'),
      minFreePercent: extra.minFreePercent ?? 0,
    },
  };
}

/**
 * A tree with the hard cases: thousands of files, empty files and
 * directories, spaces and non-ASCII names, names of 100 bytes and more,
 * hard links (also across directories) and symlinks (also with long targets).
 */
export async function makeTree(dir: string, files = 2000): Promise<void> {
  await mkdir(path.join(dir, 'empty dir'), { recursive: true });
  for (let d = 0; d < 20; d++) await mkdir(path.join(dir, `bucket ${d}`, 'ünïcødé 文件'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `bucket ${i % 20}`, i % 3 === 0 ? 'ünïcødé 文件' : '');
    await writeFile(path.join(d, `part.${i}`), randomBytes(i % 7 === 0 ? 0 : (i * 131) % 9000));
  }
  const long = path.join(dir, 'l'.repeat(120), 'n'.repeat(150));
  await mkdir(long, { recursive: true });
  await writeFile(path.join(long, 'f'.repeat(200)), randomBytes(700));
  await writeFile(path.join(dir, 'x'.repeat(60)), 'exactly at the edge');
  await link(path.join(long, 'f'.repeat(200)), path.join(dir, 'hard link to long'));
  await link(path.join(dir, 'bucket 1', 'part.1'), path.join(dir, 'bucket 3', 'hard link'));
  await symlink('bucket 2/part.2', path.join(dir, 'symlink'));
  await symlink('t'.repeat(130), path.join(dir, 'dangling long symlink'));
  await writeFile(path.join(dir, 'empty file'), '');
}

export function findCount(dir: string, type: 'f' | 'd' | 'l'): number {
  return execFileSync('find', [dir, '-type', type], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
}

export const tarBinary = execFileSync('sh', ['-c', 'command -v tar'], { encoding: 'utf8' }).trim();

/**
 * A `tar` for PATH that runs the real GNU tar but lets only `gateBytes` of
 * the archive reach the archive file (`-cf FILE`) until `gateFile` exists:
 * the test decides when a backup is "mid-stream" instead of racing it. The
 * real tar writes to this script's pipe, which writes FILE. It writes its
 * pid to `pidFile`.
 */
export async function writeGatedTar(binDir: string, o: { gateFile: string; pidFile: string; gateBytes: number }): Promise<void> {
  await mkdir(binDir, { recursive: true });
  const script = `#!${process.execPath}
import { spawn } from 'node:child_process';
import { existsSync, openSync, renameSync, writeFileSync, writeSync, closeSync } from 'node:fs';
// Written whole or not at all: a reader never sees an empty pid file.
writeFileSync(${JSON.stringify(`${o.pidFile}.tmp`)}, String(process.pid));
renameSync(${JSON.stringify(`${o.pidFile}.tmp`)}, ${JSON.stringify(o.pidFile)});
const args = process.argv.slice(2);
const at = args.indexOf('-cf');
if (at < 0) { process.stderr.write('gated tar: no -cf FILE in ' + args.join(' ') + '\\n'); process.exit(2); }
const out = openSync(args[at + 1], 'w');
args[at + 1] = '-';
const tar = spawn(${JSON.stringify(tarBinary)}, args, { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('SIGTERM', () => { tar.kill('SIGKILL'); process.exit(143); });
const limit = ${o.gateBytes};
let passed = 0;
let open = false;
// A write error ends it the way GNU tar ends: its message on stderr, exit 2.
const put = (chunk) => {
  try {
    for (let at = 0; at < chunk.length; ) at += writeSync(out, chunk, at);
  } catch (err) {
    const why = err.code === 'ENOSPC' ? 'No space left on device' : err.message;
    process.stderr.write('tar: ' + process.argv[process.argv.indexOf('-cf') + 1] + ': Cannot write: ' + why + '\\ntar: Error is not recoverable: exiting now\\n');
    tar.kill('SIGKILL');
    process.exit(2);
  }
};
tar.stdout.on('data', (chunk) => {
  if (open) return put(chunk);
  const room = limit - passed;
  if (chunk.length <= room) { passed += chunk.length; return put(chunk); }
  if (room > 0) put(chunk.subarray(0, room));
  passed = limit;
  tar.stdout.pause();
  const t = setInterval(() => {
    if (!existsSync(${JSON.stringify(o.gateFile)})) return;
    clearInterval(t);
    open = true;
    put(chunk.subarray(room));
    tar.stdout.resume();
  }, 20);
});
tar.on('close', (code) => { closeSync(out); process.exit(code ?? 2); });
`;
  await writeFile(path.join(binDir, 'tar'), script, { mode: 0o755 });
}

/** One JSON call to an agent at `base` (its URL): status, headers and the parsed body. */
export async function agentJson(base: string, method: string, url: string, body?: unknown) {
  const res = await fetch(`${base}${url}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}
