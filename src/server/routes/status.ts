import type { FastifyPluginAsync } from 'fastify';

/** Sections of `/v1/status`, each computed when asked (trust, hosts, api, ...). */
export type StatusSections = Readonly<Record<string, () => unknown>>;

export function statusRoutes(deps: { node: string; sections: StatusSections }): FastifyPluginAsync {
  return (app) => {
    app.get('/v1/status', { config: { resource: 'status' } }, () => {
      const out: Record<string, unknown> = { node: deps.node };
      for (const [name, read] of Object.entries(deps.sections)) out[name] = read();
      return out;
    });
    return Promise.resolve();
  };
}
