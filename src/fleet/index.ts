/**
 * The fleet module for an orchestrator: discover the node-ca agents, call
 * them, fan an operation out over all nodes. `node-ca fleet` is a thin CLI on it.
 */
export {
  createAgentTransport,
  AgentCallError,
  type AgentTransport,
  type AgentTransportOptions,
} from './agent-client.js';
export {
  createAgentClient,
  isJobFinished,
  type AgentClient,
  type AgentBackupJob,
  type AgentPullCheckResult,
  type AgentStatus,
} from './agent-api.js';
export { discoverAgents, withProblems, type FleetDiscovery } from './discovery.js';
export {
  fanOut,
  failedNodes,
  NodeOperationFailed,
  type NodeFailure,
  type NodeResult,
} from './fan-out.js';
export { runFleetBackup, type FleetBackupOptions, type NodeBackupOutcome } from './backup.js';
export { downloadArchive, type ArchiveDownload } from './download.js';
export { runFleetPullCheck, pullCheckRows, type NodePullCheck } from './pull-check.js';
export { runFleetStatus, computeDrift, summarizeStatus, type NodeTrustSummary } from './status.js';
export * from './targets.js';
export { openFleetSession, type FleetSession, type FleetSessionOptions } from './session.js';
