/**
 * The node-ca command line, loaded by the bin (main.ts) once it has checked
 * that this is Node 24: these modules use Node 24 APIs at link time.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../lib/errors.js';
import { registerAgentCommand } from './agent.js';
import { registerCleanupCommand } from './cleanup.js';
import { registerBackupCommand } from './backup.js';
import { registerDemoCommand } from './demo.js';
import { packageVersion, registerVersionCommand } from './version.js';

const residentCommands = new Set(['agent', 'demo']);

const program = new Command('node-ca')
  .description('per-node agent of the image registry: CA trust, /etc/hosts, node operations')
  .version(packageVersion(), '--version')
  .exitOverride();

registerAgentCommand(program);
registerCleanupCommand(program);
registerBackupCommand(program);
registerDemoCommand(program);
// doctor and fleet load @kubernetes/client-node (about 70 MiB of RSS); the
// agent is resident on every node, so its process never loads them.
if (!residentCommands.has(process.argv[2] ?? '')) {
  (await import('./doctor.js')).registerDoctorCommand(program);
  (await import('./fleet.js')).registerFleetCommand(program);
}
registerVersionCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeFor(err);
}

/** 2 for usage and configuration errors, 1 for anything else. */
function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof ConfigError) {
    process.stderr.write(`node-ca: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`node-ca: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
