import { ValueErrorType } from '@sinclair/typebox/errors';
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { VigilError } from '../core/errors.js';
import { MASK, redactUrlsDeep } from '../core/redact.js';
import { ENV_BINDINGS, envValue } from './env.js';
import { maskSecrets, secretPaths } from './secrets.js';

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

/** Reports a setting that breaks a rule its schema cannot express (a cross-field rule). */
export type ProblemReport = (key: string, message: string) => void;

/**
 * A configuration: its schema (the stages' sections put together), the rules across fields its
 * schema cannot express, and how the decoded value is resolved (relative paths, defaults that come
 * from other settings).
 */
export interface ConfigDefinition<D, C> {
  schema: TSchema;
  check(decoded: D, problem: ProblemReport): void;
  resolve(decoded: D, cwd: string): C;
}

export interface ConfigLoader<C> {
  /** Reads, overrides, validates and resolves the config. Throws VGL_CONFIG_* with every problem listed. */
  load(options?: LoadOptions): C;
  /** Validates an already-parsed config object (`vigil config check`, tests). */
  validate(raw: unknown, ctx: { cwd: string; origin: string; sources?: Map<string, string> }): C;
  /** The config as it may be printed: secrets masked. */
  mask(cfg: C): Record<string, unknown>;
  /** Paths of the settings the schema marks secret. */
  readonly secrets: readonly string[];
}

export function configLoader<D, C>(def: ConfigDefinition<D, C>): ConfigLoader<C> {
  const secrets = secretPaths(def.schema);
  // Keys whose values are never echoed, not even in a problem report.
  const secretKeys = new Set(secrets.filter((p) => !p.includes('*')));
  const validate = (raw: unknown, ctx: { cwd: string; origin: string; sources?: Map<string, string> }): C => {
    const withDefaults = Value.Default(def.schema, structuredClone(raw ?? {}));
    const problems = collectProblems(def, secretKeys, withDefaults, ctx);
    if (problems.length > 0) {
      const list = problems.map((p) => `  - ${p.key}: ${p.message} (${p.source})`).join('\n');
      throw new VigilError('VGL_CONFIG_INVALID', `invalid configuration:\n${list}`, { details: problems });
    }
    return def.resolve(Value.Decode(def.schema, withDefaults) as D, ctx.cwd);
  };
  return {
    secrets,
    validate,
    load(options = {}) {
      const env = options.env ?? process.env;
      const file = options.file ?? env.VIGIL_CONFIG;
      const raw = file ? readConfigFile(file) : {};
      const sources = new Map<string, string>();
      applyEnv(raw, env, sources);
      return validate(raw, { cwd: options.cwd ?? process.cwd(), origin: file ?? 'defaults', sources });
    },
    mask: (cfg) => maskSecrets(cfg, secrets),
  };
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

function collectProblems<D, C>(
  def: ConfigDefinition<D, C>,
  secretKeys: ReadonlySet<string>,
  value: unknown,
  ctx: { origin: string; sources?: Map<string, string> },
): ConfigProblem[] {
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const e of Value.Errors(def.schema, value)) {
    const key = e.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    // A union yields one error per branch; one line per key is what a person needs.
    if (seen.has(key)) continue;
    seen.add(key);
    const unexpected = e.type === ValueErrorType.ObjectAdditionalProperties;
    problems.push({
      key,
      message: unexpected
        ? 'unknown setting (check its spelling and nesting)'
        : `${e.message}, got ${JSON.stringify(secretKeys.has(key) ? MASK : redactUrlsDeep(e.value))}${describeExpected(e.schema)}`,
      source: ctx.sources?.get(key) ?? ctx.origin,
    });
  }
  // The rules across fields, once every field is valid on its own.
  if (problems.length === 0)
    def.check(Value.Decode(def.schema, value) as D, (key, message) =>
      problems.push({ key, message, source: ctx.sources?.get(key) ?? ctx.origin }),
    );
  return problems;
}

function describeExpected(schema: { description?: string; anyOf?: Array<{ const?: unknown }> }): string {
  if (schema.anyOf && schema.anyOf.every((s) => s.const !== undefined)) {
    return ` (one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(', ')})`;
  }
  return schema.description ? ` (${schema.description})` : '';
}
