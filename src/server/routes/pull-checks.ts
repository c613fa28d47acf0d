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
}

/** `POST /v1/pull-checks`: everything is validated (400) before any process starts. */
export function pullCheckRoutes(deps: PullCheckRouteDeps): FastifyPluginAsync {
  return (app) => {
    app.post<{ Body: PullCheckBody }>(
      '/v1/pull-checks',
      { config: { resource: 'pullchecks' }, schema: { body: bodySchema } },
      async (request) => {
        const refs = validatePullCheckImages(request.body.images, deps.allowedRegistries());
        const timeoutMs = request.body.timeoutSeconds === undefined ? undefined : request.body.timeoutSeconds * 1000;
        return deps.checker.check(refs, {
          ...(request.body.runtime === undefined ? {} : { runtime: request.body.runtime }),
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
      },
    );
    return Promise.resolve();
  };
}
