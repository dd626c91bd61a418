import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../core/errors.js';

export type Role = 'viewer' | 'operator' | 'admin';
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export interface AuthOptions {
  anonymousRead: boolean;
  tokens: ReadonlyArray<{ name: string; role: Role; sha256: string }>;
}

export interface Principal {
  name: string;
  role: Role | 'anonymous';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route needs; reads are `viewer`, writes `operator` or `admin`. */
    role?: Role;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token and the config line that admits it (only the hash is stored). */
export function createToken(): { token: string; sha256: string } {
  const token = `vgl_${randomBytes(24).toString('base64url')}`;
  return { token, sha256: hashToken(token) };
}

/**
 * Bearer tokens checked against their SHA-256 hashes (the config never holds a usable token), in
 * constant time. Every route declares the least role it needs in its config; without one it is
 * treated as a write (admin), so a route that forgot to declare is closed rather than open.
 */
export function registerAuth(app: FastifyInstance, o: AuthOptions): void {
  const known = o.tokens.map((t) => ({ ...t, digest: Buffer.from(t.sha256, 'hex') }));
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    const needs: Role | 'public' = routeRole(request);
    request.principal = identify(request, known);
    if (needs === 'public') return;
    if (request.principal.role === 'anonymous') {
      if (needs === 'viewer' && o.anonymousRead) return;
      throw new VigilError('VGL_UNAUTHORIZED', request.headers.authorization ? 'the bearer token is not valid' : undefined);
    }
    if (RANK[request.principal.role] < RANK[needs])
      throw new VigilError('VGL_FORBIDDEN', `this needs the ${needs} role; the token has ${request.principal.role}`);
  });
}

function routeRole(request: FastifyRequest): Role | 'public' {
  const url = request.routeOptions.url;
  // Health probes, the docs, and unknown routes (answered by the 404 handler) need no token.
  // The status page's static files are public too: they hold no data.
  if (url === undefined || url === '/healthz' || url === '/readyz' || url === '/' || url.startsWith('/ui/') || url.startsWith('/docs'))
    return 'public';
  return request.routeOptions.config.role ?? 'admin';
}

function identify(request: FastifyRequest, known: ReadonlyArray<{ name: string; role: Role; digest: Buffer }>): Principal {
  const header = request.headers.authorization;
  if (!header) return { name: 'anonymous', role: 'anonymous' };
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new VigilError('VGL_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"');
  const digest = createHash('sha256').update(m[1]!, 'utf8').digest();
  let match: { name: string; role: Role } | null = null;
  for (const k of known) if (timingSafeEqual(k.digest, digest)) match = k;
  if (!match) throw new VigilError('VGL_UNAUTHORIZED', 'the bearer token is not valid');
  return { name: match.name, role: match.role };
}
