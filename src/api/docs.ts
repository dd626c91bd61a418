import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../core/version.js';

/** OpenAPI generated from the routes' own schemas, served as JSON and browsable at /docs. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Vigil API',
        version: VERSION,
        description:
          'Machines, scores, alerts, events, models and training runs of one Vigil gateway. Errors are `{ error: { code, message } }`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: ['status', 'machines', 'events', 'alerts', 'models', 'training', 'energy'].map((name) => ({ name })),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
}
