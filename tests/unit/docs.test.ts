import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../src/config/reference.js';
import { secretPaths } from '../../src/config/secrets.js';
import { ConfigSchema, LOG_REDACTION, maskSecrets, validateConfig } from '../../src/vigil-config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function markdownFiles(): string[] {
  const docs = path.join(ROOT, 'docs');
  const inDocs = readdirSync(docs, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md'));
  return [path.join(ROOT, 'README.md'), ...inDocs.map((f) => path.join(docs, f))];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const a = anchor(m[1]!);
    const n = seen.get(a) ?? 0;
    seen.set(a, n + 1);
    out.add(n === 0 ? a : `${a}-${n}`);
  }
  return out;
}

/** Relative links of a Markdown file (code blocks left out): `[text](target)`. */
function linksOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

describe('docs', () => {
  it('docs/configuration.md is the reference the schemas make (run `npm run docs:config` when this fails)', () => {
    const written = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
    expect(written).toBe(configReference(ConfigSchema));
  });

  it('every relative link in the README and docs/ reaches a file, and its #anchor a heading there', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      for (const link of linksOf(file)) {
        const [target, hash] = link.split('#') as [string, string | undefined];
        const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
        const where = `${path.relative(ROOT, file)} → ${link}`;
        if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
        else if (hash && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchorsOf(resolved).has(hash)) {
          broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the link check sees links and anchors', () => {
    expect(linksOf(path.join(ROOT, 'README.md')).length).toBeGreaterThan(5);
    expect(anchor('`mqtt` — the broker, (and) TLS')).toBe('mqtt--the-broker-and-tls');
  });
});

describe('secrets, marked once in their schemas', () => {
  it('are found in every stage that has one', () => {
    expect(secretPaths(ConfigSchema)).toEqual(
      expect.arrayContaining([
        'mqtt.password',
        'store.influx.password',
        'notify.webhooks.*.secret',
        'federation.key',
        'federation.broker.password',
      ]),
    );
  });

  it('are masked in the printed config and named in the log redaction', () => {
    const config = validateConfig(
      {
        mqtt: { url: 'mqtt://127.0.0.1:1883', username: 'u', password: 'mqtt-pass-1' },
        store: { kind: 'influx', influx: { password: 'influx-pass-2' } },
        notify: { webhooks: [{ name: 'ops', url: 'https://hooks.example/x', secret: 'hook-secret-value-3' }] },
      },
      { cwd: ROOT, origin: 'test' },
    );
    const printed = JSON.stringify(maskSecrets(config));
    for (const s of ['mqtt-pass-1', 'influx-pass-2', 'hook-secret-value-3']) expect(printed).not.toContain(s);
    expect(LOG_REDACTION).toEqual(expect.arrayContaining(['password', '*.password', '*.secret', '*.key']));
  });
});
