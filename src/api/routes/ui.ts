import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The status page's files (plain ES modules, no bundler): copied into dist/ui by the build, so the
 * package ships them; from sources (tests, `tsx`) they are read where they are written, src/api/ui.
 */
export function uiDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../../ui'), path.resolve(here, '../ui')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`status page files not found (looked in ${candidates.join(', ')}; npm run build copies them)`);
  return found;
}

/**
 * The status page at `/` and its files under /ui/, with uPlot from node_modules under /ui/vendor/.
 * Public like /healthz: the page holds no data; what it shows comes from the API with the viewer's token.
 */
export async function uiRoutes(app: FastifyInstance): Promise<void> {
  const require = createRequire(import.meta.url);
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  // Revalidated on each load: an upgraded daemon's page must not run with last version's scripts.
  const noCache = {
    cacheControl: false,
    setHeaders: (res: { setHeader(k: string, v: string): void }) => res.setHeader('cache-control', 'no-cache'),
  };
  await app.register(fastifyStatic, { root: uiDir(), prefix: '/ui/', index: false, wildcard: false, schemaHide: true, ...noCache });
  await app.register(fastifyStatic, {
    root: uplot,
    prefix: '/ui/vendor/',
    decorateReply: false,
    wildcard: false,
    schemaHide: true,
    allowedPath: (p) => /^\/uPlot\.(iife\.min\.js|min\.css)$/.test(p),
    ...noCache,
  });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.sendFile('index.html'));
  // Browsers ask for /favicon.ico on their own (bookmarks, tabs opened from a link).
  app.get('/favicon.ico', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/favicon.svg', 301));
}
