#!/usr/bin/env node
// The bin. The CLI's modules import Node 24 APIs (fs/promises `glob`); on an
// older Node that is an ESM link error before any code runs, so this module
// imports nothing of Node's, checks the version, then loads the CLI.
import { unsupportedNodeMessage } from './node-runtime.js';

const problem = unsupportedNodeMessage(process.versions.node);
if (problem === undefined) await import('./program.js');
else {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 2;
}
