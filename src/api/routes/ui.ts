import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The status page's files live in src/api/ui (plain ES modules, no build step); this finds them from src or dist. */
function uiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'src', 'api', 'ui');
    try {
      readFileSync(path.join(candidate, 'index.html'));
      return candidate;
    } catch {
      // keep walking up to the package root
    }
  }
  throw new Error('status page files (src/api/ui) not found');
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * The status page at `/`: a few static files read once at start-up, plus uPlot from node_modules.
 * Public like /healthz: the page holds no data; what it shows comes from the API with the viewer's token.
 */
export function uiRoutes(app: FastifyInstance): void {
  const dir = uiDir();
  const require = createRequire(import.meta.url);
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', 'app.js', 'views.js', 'api.js', 'style.css']) files.set(`/ui/${name}`, { body: readFileSync(path.join(dir, name)), type: TYPES[path.extname(name)]! });
  files.set('/ui/vendor/uPlot.iife.min.js', { body: readFileSync(path.join(uplot, 'uPlot.iife.min.js')), type: TYPES['.js']! });
  files.set('/ui/vendor/uPlot.min.css', { body: readFileSync(path.join(uplot, 'uPlot.min.css')), type: TYPES['.css']! });
  const send = (key: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const f = files.get(key)!;
    return reply.header('content-type', f.type).header('cache-control', 'no-cache').send(f.body);
  };
  app.get('/', { schema: { hide: true } }, send('/ui/index.html'));
  for (const key of files.keys()) app.get(key, { schema: { hide: true } }, send(key));
}
