import type { FastifyInstance } from 'fastify';
import { FederationViewSchema, type FederationView } from '../../federation/index.js';
import { READ_ERRORS, errors } from '../schemas.js';

export interface FederationRouteDeps {
  view(): FederationView;
}

/** The federation this gateway takes part in: its kinds, rounds, clients, last aggregate metrics and counters. */
export function federationRoutes(app: FastifyInstance, d: FederationRouteDeps): void {
  app.get(
    '/federation',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'federated learning: the kinds this gateway trains and coordinates, their rounds and counters',
        response: { 200: FederationViewSchema, ...errors(...READ_ERRORS) },
      },
    },
    async () => d.view(),
  );
}
