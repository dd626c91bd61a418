import { ValueErrorType } from '@sinclair/typebox/errors';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import cron from 'node-cron';
import YAML from 'yaml';
import { VigilError } from '../core/errors.js';
import { ConfigSchema, type VigilConfig } from './schema.js';
import { MASK, redactUrlsDeep } from '../core/redact.js';
import { ENV_BINDINGS, SECRET_PATHS, envValue } from './env.js';

/** Keys whose values are never echoed, not even in a problem report. */
const SECRET_KEYS = new Set(SECRET_PATHS.filter((p) => !p.includes('*')));

export interface LoadOptions {
  /** YAML file; absent = embedded defaults. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Base for relative paths; defaults to the working directory. */
  cwd?: string;
}

export interface ConfigProblem {
  key: string;
  message: string;
  source: string;
}

/** Reads, overrides, validates and resolves the config. Throws VGL_CONFIG_* with every problem listed. */
export function loadConfig(options: LoadOptions = {}): VigilConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.VIGIL_CONFIG;
  const raw = file ? readConfigFile(file) : {};
  const sources = new Map<string, string>();
  applyEnv(raw, env, sources);
  return validateConfig(raw, { cwd: options.cwd ?? process.cwd(), origin: file ?? 'defaults', sources });
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new VigilError('VGL_CONFIG_UNREADABLE', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => e.message.split('\n')[0]).join('; ');
    throw new VigilError('VGL_CONFIG_UNREADABLE', `config file ${file} is not valid YAML: ${msgs}`);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // Parsed, but not convertible (an alias to an anchor that does not exist, an alias loop).
    throw new VigilError('VGL_CONFIG_UNREADABLE', `config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new VigilError('VGL_CONFIG_INVALID', `config file ${file} must hold a mapping of settings at top level`);
  }
  return value as Record<string, unknown>;
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, sources: Map<string, string>): void {
  for (const binding of ENV_BINDINGS) {
    const v = env[binding.env];
    if (v === undefined || v === '') continue;
    setPath(raw, binding.path, envValue(binding, v));
    sources.set(binding.path.join('.'), `env ${binding.env}`);
  }
  if (env.VIGIL_INFLUX_URL && !env.VIGIL_STORE) {
    setPath(raw, ['store', 'kind'], 'influx');
    sources.set('store.kind', 'env VIGIL_INFLUX_URL');
  }
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Validates an already-parsed config object; exported for `vigil config check` and tests. */
export function validateConfig(raw: unknown, ctx: { cwd: string; origin: string; sources?: Map<string, string> }): VigilConfig {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw ?? {}));
  const problems = collectProblems(withDefaults, ctx);
  if (problems.length > 0) {
    const list = problems.map((p) => `  - ${p.key}: ${p.message} (${p.source})`).join('\n');
    throw new VigilError('VGL_CONFIG_INVALID', `invalid configuration:\n${list}`, { details: problems });
  }
  const decoded = Value.Decode(ConfigSchema, withDefaults);
  return resolvePaths(decoded, ctx.cwd);
}

function collectProblems(value: unknown, ctx: { origin: string; sources?: Map<string, string> }): ConfigProblem[] {
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const e of Value.Errors(ConfigSchema, value)) {
    const key = e.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    // A union yields one error per branch; one line per key is what a person needs.
    if (seen.has(key)) continue;
    seen.add(key);
    const unexpected = e.type === ValueErrorType.ObjectAdditionalProperties;
    problems.push({
      key,
      message: unexpected
        ? 'unknown setting (check its spelling and nesting)'
        : `${e.message}, got ${JSON.stringify(SECRET_KEYS.has(key) ? MASK : redactUrlsDeep(e.value))}${describeExpected(e.schema)}`,
      source: ctx.sources?.get(key) ?? ctx.origin,
    });
  }
  const cfg = value as { writer?: { retryInitial?: unknown; retryMax?: unknown } };
  if (problems.length === 0 && cfg.writer) {
    // Cross-field rule the schema cannot express.
    const decoded = Value.Decode(ConfigSchema, value);
    if (decoded.writer.retryInitial > decoded.writer.retryMax) {
      problems.push({ key: 'writer.retryInitial', message: 'must not exceed writer.retryMax', source: ctx.origin });
    }
    if (decoded.mqtt.reconnectMin > decoded.mqtt.reconnectMax) {
      problems.push({ key: 'mqtt.reconnectMin', message: 'must not exceed mqtt.reconnectMax', source: ctx.origin });
    }
    if (decoded.mqtt.qos === 2 && !decoded.mqtt.url) {
      // aedes loses QoS 2 deliveries to a persistent session now and then; QoS 1 with writes that are
      // idempotent on (machine, sensor, ts) already stores each reading exactly once.
      problems.push({
        key: 'mqtt.qos',
        message:
          'QoS 2 needs an external broker (mqtt.url); the embedded one delivers QoS 1 at most, which with idempotent writes already stores each reading once',
        source: ctx.origin,
      });
    }
    const l = decoded.learning;
    if (l.rulCap <= l.horizon) {
      // Capped at or below the horizon, RUL could never say more than the alert horizon it informs.
      problems.push({
        key: 'learning.rulCap',
        message: `must exceed learning.horizon (${l.horizon} steps), or RUL can never say more than the horizon; e.g. ${Math.max(125, 2 * l.horizon)}`,
        source: ctx.origin,
      });
    }
    if (decoded.journal.segmentBytes > decoded.journal.maxBytes) {
      problems.push({ key: 'journal.segmentBytes', message: 'must not exceed journal.maxBytes', source: ctx.origin });
    }
    const sch = decoded.schedule;
    if (!cron.validate(sch.cron))
      problems.push({ key: 'schedule.cron', message: `not a cron expression: ${JSON.stringify(sch.cron)}`, source: ctx.origin });
    if (!validTimezone(sch.timezone))
      problems.push({ key: 'schedule.timezone', message: `not an IANA time zone: ${JSON.stringify(sch.timezone)}`, source: ctx.origin });
    if (sch.carbon.file && sch.carbon.url)
      problems.push({ key: 'schedule.carbon', message: 'give either file or url, not both', source: ctx.origin });
    if (decoded.alerts.risk.high !== undefined && decoded.alerts.risk.low > decoded.alerts.risk.high) {
      problems.push({ key: 'alerts.risk.low', message: 'must not exceed alerts.risk.high', source: ctx.origin });
    }
    const fed = decoded.federation;
    if (fed.enabled) {
      if (!fed.key)
        problems.push({ key: 'federation.key', message: 'a federation needs its signing key (VIGIL_FEDERATION_KEY)', source: ctx.origin });
      if (!fed.broker.url && !decoded.mqtt.url)
        problems.push({
          key: 'federation.broker.url',
          message:
            "a federation needs the plant's broker (federation.broker.url or mqtt.url): the embedded broker serves this gateway only",
          source: ctx.origin,
        });
      if (fed.coordinator.enabled && fed.coordinator.kinds.length === 0)
        problems.push({ key: 'federation.coordinator.kinds', message: 'name the kinds this gateway coordinates', source: ctx.origin });
    }
  }
  return problems;
}

function describeExpected(schema: { description?: string; anyOf?: Array<{ const?: unknown }> }): string {
  if (schema.anyOf && schema.anyOf.every((s) => s.const !== undefined)) {
    return ` (one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(', ')})`;
  }
  return schema.description ? ` (${schema.description})` : '';
}

function resolvePaths(cfg: ReturnType<typeof Value.Decode<typeof ConfigSchema>>, cwd: string): VigilConfig {
  const dataDir = path.resolve(cwd, cfg.dataDir);
  const tls = cfg.mqtt.tls;
  return {
    ...cfg,
    dataDir,
    // A gateway's name in its federation is its host name unless configured (the update topic's last level).
    federation: {
      ...cfg.federation,
      client:
        cfg.federation.client ??
        (hostname()
          .replace(/[^A-Za-z0-9_.:-]/g, '-')
          .slice(0, 64) ||
          'gateway'),
    },
    mqtt: {
      ...cfg.mqtt,
      clientId: cfg.mqtt.clientId ?? `vigil-${hostname()}`,
      tls: {
        ...tls,
        ca: tls.ca && path.resolve(cwd, tls.ca),
        cert: tls.cert && path.resolve(cwd, tls.cert),
        key: tls.key && path.resolve(cwd, tls.key),
      },
    },
    writer: { ...cfg.writer, maxPendingBytes: cfg.writer.maxPendingBytes ?? (cfg.store.kind === 'influx' ? 32 : 8) * 2 ** 20 },
    // A reading older than one scoring window when it arrives cannot be part of a live score.
    ingest: { ...cfg.ingest, backfillAge: cfg.ingest.backfillAge ?? cfg.learning.window * cfg.learning.step },
    store: { ...cfg.store, sqlite: { ...cfg.store.sqlite, path: path.resolve(dataDir, cfg.store.sqlite.path ?? 'sensors.db') } },
    journal: { ...cfg.journal, dir: path.resolve(dataDir, cfg.journal.dir ?? 'journal') },
    learning: { ...cfg.learning, modelsDir: path.resolve(cwd, cfg.learning.modelsDir) },
    // Open reads are a convenience for a gateway's own console, never for a plant-wide address.
    api: { ...cfg.api, anonymousRead: cfg.api.anonymousRead ?? isLoopback(cfg.http.host) },
    schedule: {
      ...cfg.schedule,
      carbon: { ...cfg.schedule.carbon, file: cfg.schedule.carbon.file && path.resolve(cwd, cfg.schedule.carbon.file) },
    },
  };
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The effective config as printed by `vigil config print`: secrets masked — the keys that hold them,
 * every configured header value (carbon source authorization), and inside every URL its userinfo
 * and credential-like query parameters.
 */
export function maskSecrets(cfg: VigilConfig): Record<string, unknown> {
  const copy = redactUrlsDeep(structuredClone(cfg)) as unknown as Record<string, unknown>;
  const mask = (node: unknown, keys: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const [k, ...rest] = keys as [string, ...string[]];
    // `*` walks every element of a list or every value of a map.
    const children = k === '*' ? Object.values(node as object) : [(node as Record<string, unknown>)[k]];
    if (rest.length === 0) {
      if (k === '*') for (const key of Object.keys(node as object)) (node as Record<string, unknown>)[key] = MASK;
      else if ((node as Record<string, unknown>)[k] !== undefined) (node as Record<string, unknown>)[k] = MASK;
      return;
    }
    for (const child of children) mask(child, rest);
  };
  for (const p of SECRET_PATHS) mask(copy, p.split('.'));
  return copy;
}
