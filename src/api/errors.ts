import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, VigilError, type ErrorCode } from '../core/errors.js';
import { isDamage } from '../core/state-db.js';

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
  VGL_BUSY: 503,
  VGL_STORE_UNAVAILABLE: 503,
  VGL_STORE_QUERY: 502,
  VGL_MODEL: 500,
  VGL_STATE_DAMAGED: 503,
};

/** Fastify's own 4xx statuses, mapped onto the catalogue so clients see one set of codes. */
const BY_STATUS: Record<number, ErrorCode> = {
  401: 'VGL_UNAUTHORIZED',
  403: 'VGL_FORBIDDEN',
  404: 'VGL_NOT_FOUND',
  413: 'VGL_PAYLOAD_TOO_LARGE',
  415: 'VGL_UNSUPPORTED_MEDIA_TYPE',
  429: 'VGL_RATE_LIMITED',
};

/** Every error leaves as `{ error: { code, message } }` with a stable code from the catalogue. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | VigilError, request, reply) => {
    if (err instanceof VigilError) {
      const status = HTTP_STATUS[err.code] ?? 500;
      const retryAfter = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
      // A refusal under load is the plan working, not a failure to log at error level.
      if (status >= 500 && err.code !== 'VGL_BUSY') request.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: err.code, message: err.message } });
    }
    // Damage found while running (the start-up check passed): say so, not "internal error".
    if (isDamage(err)) {
      request.log.error({ err }, 'state database damaged');
      return reply.status(503).send({
        error: {
          code: 'VGL_STATE_DAMAGED',
          message: `Vigil's state database is damaged (${err.message.slice(0, 200)}); stop Vigil and restore or salvage it (docs/operator-guide.md, "Back up")`,
        },
      });
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

/**
 * JSON bodies parsed by JSON.parse, then refused if they hold `__proto__` (or `constructor.prototype`)
 * anywhere: such keys poison objects they are merged into. Each refusal says which, rather than
 * "not valid JSON".
 */
export function registerJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    const fail = (message: string) => done(Object.assign(new Error(message), { statusCode: 400 }), undefined);
    if (text.trim() === '') return fail('the body is empty; send a JSON object, or no content-type for none');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail(`the body is not valid JSON: ${(err as Error).message.slice(0, 120)}`);
    }
    const forbidden = forbiddenKey(value);
    if (forbidden) return fail(`the body holds the key ${forbidden}, which is never accepted`);
    done(null, value);
  });
}

function forbiddenKey(value: unknown): string | null {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return '__proto__';
    const ctor = (v as Record<string, unknown>).constructor;
    if (
      Object.prototype.hasOwnProperty.call(v, 'constructor') &&
      ctor !== null &&
      typeof ctor === 'object' &&
      Object.prototype.hasOwnProperty.call(ctor, 'prototype')
    )
      return 'constructor.prototype';
    for (const child of Object.values(v)) stack.push(child);
  }
  return null;
}

/**
 * URLs fastify's router refuses before a route sees them: a path parameter longer than 100
 * characters (414; no machine id, alert id or version is that long) or a malformed one (400).
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.status(414).send({
      error: { code: 'VGL_URI_TOO_LONG', message: 'a path parameter is longer than 100 characters; no id Vigil uses is that long' },
    });
    return;
  }
  void reply.status(400).send({ error: { code: 'VGL_BAD_REQUEST', message: `the URL is not valid: ${err.message.slice(0, 200)}` } });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/** What Node's HTTP parser refuses before a route sees it, answered in Vigil's error envelope. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (socket.destroyed || !socket.writable) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({
    error:
      status === 431
        ? {
            code: 'VGL_HEADERS_TOO_LARGE',
            message: 'the request headers are too large (at most 16 KiB together; a bearer token is about 40 bytes)',
          }
        : { code: 'VGL_BAD_REQUEST', message: 'the request is not valid HTTP' },
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
