import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CATALOGUE, VigilError, type ErrorCode } from '../core/errors.js';
import { isDamage } from '../store/state-db.js';

export const ErrorBodySchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  VGL_NOT_FOUND: 404,
  VGL_BAD_REQUEST: 400,
  VGL_UNAUTHORIZED: 401,
  VGL_FORBIDDEN: 403,
  VGL_CONFLICT: 409,
  VGL_TRAINING_BUSY: 409,
  VGL_PAYLOAD_TOO_LARGE: 413,
  VGL_UNSUPPORTED_MEDIA_TYPE: 415,
  VGL_RATE_LIMITED: 429,
  VGL_STORE_UNAVAILABLE: 503,
  VGL_STORE_QUERY: 502,
  VGL_MODEL: 500,
  VGL_STATE_DAMAGED: 503,
};

/** Fastify's own 4xx statuses, mapped onto the catalogue so clients see one set of codes. */
const BY_STATUS: Record<number, ErrorCode> = { 401: 'VGL_UNAUTHORIZED', 403: 'VGL_FORBIDDEN', 404: 'VGL_NOT_FOUND', 413: 'VGL_PAYLOAD_TOO_LARGE', 415: 'VGL_UNSUPPORTED_MEDIA_TYPE', 429: 'VGL_RATE_LIMITED' };

/** Every error leaves as `{ error: { code, message } }` with a stable code from the catalogue. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | VigilError, request, reply) => {
    if (err instanceof VigilError) {
      const status = HTTP_STATUS[err.code] ?? 500;
      if (status >= 500) request.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: err.code, message: err.message } });
    }
    // Damage found while running (the start-up check passed): say so, not "internal error".
    if (isDamage(err)) {
      request.log.error({ err }, 'state database damaged');
      return reply.status(503).send({ error: { code: 'VGL_STATE_DAMAGED', message: `Vigil's state database is damaged (${err.message.slice(0, 200)}); stop Vigil and restore or salvage it (docs/operator-guide.md, "Back up")` } });
    }
    if (err.validation) {
      return reply.status(400).send({ error: { code: 'VGL_BAD_REQUEST', message: err.message } });
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: 'VGL_INTERNAL', message: ERROR_CATALOGUE.VGL_INTERNAL } });
    }
    return reply.status(status).send({ error: { code: BY_STATUS[status] ?? 'VGL_BAD_REQUEST', message: err.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'VGL_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
}

export { ERROR_CATALOGUE };
