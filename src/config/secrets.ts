import type { TSchema } from '@sinclair/typebox';
import { MASK, redactUrlsDeep } from '../core/redact.js';
import { SECRET } from './schema-parts.js';

/**
 * The paths of the settings a schema marks secret (`SecretString`), `*` standing for every element
 * of a list or value of a map: `store.influx.password`, `notify.webhooks.*.secret`.
 */
export function secretPaths(schema: TSchema, prefix: string[] = []): string[] {
  const s = schema as Record<string, unknown> & {
    properties?: Record<string, TSchema>;
    items?: TSchema;
    patternProperties?: Record<string, TSchema>;
    anyOf?: TSchema[];
  };
  if (s[SECRET]) return [prefix.join('.')];
  const out: string[] = [];
  for (const [k, sub] of Object.entries(s.properties ?? {})) out.push(...secretPaths(sub, [...prefix, k]));
  if (s.items) out.push(...secretPaths(s.items, [...prefix, '*']));
  for (const sub of Object.values(s.patternProperties ?? {})) out.push(...secretPaths(sub, [...prefix, '*']));
  for (const sub of s.anyOf ?? []) out.push(...secretPaths(sub, prefix));
  return [...new Set(out)];
}

/**
 * Log keys to redact for those settings, wherever they sit in a log line: each secret's own name
 * (`password`, `secret`, `key`) at any of the first depths, as pino's redaction paths.
 */
export function redactionPaths(paths: readonly string[]): string[] {
  const names = new Set(paths.map((p) => p.split('.').at(-1)!).filter((n) => n !== '*'));
  return [...names].flatMap((n) => [n, `*.${n}`, `*.*.${n}`]);
}

/**
 * A config as it may be shown: the secret settings masked, and inside every URL its userinfo and
 * credential-like query parameters.
 */
export function maskSecrets<C>(cfg: C, paths: readonly string[]): Record<string, unknown> {
  const copy = redactUrlsDeep(structuredClone(cfg)) as unknown as Record<string, unknown>;
  const mask = (node: unknown, keys: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const [k, ...rest] = keys as [string, ...string[]];
    const children = k === '*' ? Object.values(node as object) : [(node as Record<string, unknown>)[k]];
    if (rest.length === 0) {
      if (k === '*') for (const key of Object.keys(node as object)) (node as Record<string, unknown>)[key] = MASK;
      else if ((node as Record<string, unknown>)[k] !== undefined) (node as Record<string, unknown>)[k] = MASK;
      return;
    }
    for (const child of children) mask(child, rest);
  };
  for (const p of paths) mask(copy, p.split('.'));
  return copy;
}
