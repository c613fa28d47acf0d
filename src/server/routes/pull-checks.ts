import type { FastifyPluginAsync } from 'fastify';
import type { PullChecker } from '../../pull/checker.js';
import { maxImagesPerRequest, validatePullCheckImages } from '../../pull/request.js';
import type { RuntimeName } from '../../pull/runtimes.js';

interface PullCheckBody {
  images: string[];
  runtime?: 'auto' | RuntimeName;
  timeoutSeconds?: number;
}

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['images'],
  properties: {
    images: {
      type: 'array',
      minItems: 1,
      maxItems: maxImagesPerRequest,
      items: { type: 'string', minLength: 1, maxLength: 512 },
    },
    runtime: { type: 'string', enum: ['auto', 'nerdctl', 'crictl', 'ctr'] },
    /** Per-image timeout; may only lower the agent's 120 s. */
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 120 },
  },
} as const;

export interface PullCheckRouteDeps {
  readonly checker: PullChecker;
  /** `pull.allowedRegistries`, or when empty the hosts of the trust source, read per request. */
  readonly allowedRegistries: () => readonly string[];
  /** Aborted when the agent stops. */
  readonly shutdown?: AbortSignal;
}

/** `POST /v1/pull-checks`: everything is validated (400) before any process starts. */
export function pullCheckRoutes(deps: PullCheckRouteDeps): FastifyPluginAsync {
  return (app) => {
    app.post<{ Body: PullCheckBody }>(
      '/v1/pull-checks',
      { config: { resource: 'pullchecks' }, schema: { body: bodySchema } },
      async (request, reply) => {
        const refs = validatePullCheckImages(request.body.images, deps.allowedRegistries());
        const timeoutMs = request.body.timeoutSeconds === undefined ? undefined : request.body.timeoutSeconds * 1000;
        const report = await deps.checker.check(refs, {
          ...(request.body.runtime === undefined ? {} : { runtime: request.body.runtime }),
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
        // A check cut short by shutdown answers on a connection that was busy when the server
        // began closing; fastify only closes idle ones, so without this the keep-alive socket
        // would hold the exit for keepAliveTimeout (72 s), past a pod's grace period.
        if (deps.shutdown?.aborted === true) void reply.header('connection', 'close');
        return report;
      },
    );
    return Promise.resolve();
  };
}
