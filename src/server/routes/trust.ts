import type { FastifyPluginAsync } from 'fastify';
import type { DoctorReport } from '../../doctor/report.js';

/** `GET /v1/trust`: the doctor report, run when asked (same JSON as `node-ca doctor --json`). */
export function trustRoutes(deps: { report: () => Promise<DoctorReport> }): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/trust', { config: { resource: 'status' } }, () => deps.report());
  };
}
