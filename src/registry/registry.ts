import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { Value } from '@sinclair/typebox/value';
import { type TF, fileHandler } from '../model/index.js';
import { syncDirectory, writeFileDurable } from '../core/durable-fs.js';
import { ANY_KIND } from '../core/kinds.js';
import type { ModelRole } from '../core/model-roles.js';
import {
  calibrationProblem,
  HealthMetaSchema,
  ModelMetaSchema,
  normalisationProblem,
  roleOf,
  type AnyModelMeta,
  type HealthModelMeta,
  type ModelMeta,
} from './meta.js';

export interface RegistryEvent {
  at: string;
  version: string;
  kind: string;
  /** Absent in entries written before model roles: those were failure models. */
  role?: ModelRole;
  action: 'promoted' | 'rolled-back';
  reason: string;
}

interface RegistryState {
  /** The failure champion of each machine kind (the key keeps the name it had before roles). */
  champions: Record<string, string>;
  /** The health champion of each machine kind. */
  health: Record<string, string>;
  history: RegistryEvent[];
}

/** The kind a version serves. */
export function kindOf(meta: Pick<AnyModelMeta, 'kind'>): string {
  return meta.kind ?? ANY_KIND;
}

export class RegistryError extends Error {
  /** Set when what was asked for does not exist: what to tell the asker (a version, never a path). */
  constructor(
    message: string,
    readonly notFound?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

const VERSION_DIR = /^v\d{4,}$/;
const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');

/**
 * Versions under one directory: `<dir>/v0001/{model.json, weights.bin, meta.json}` and
 * `registry.json` naming each kind's champion of each role (failure, health). A version is written in
 * a temp directory, fsynced and renamed into place, and registry.json is replaced atomically, so a
 * crash at any point leaves the champions and every finished version intact.
 */
export class ModelRegistry {
  private readonly championListeners: Array<() => void> = [];

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // Leftovers of saves interrupted by a crash.
    for (const f of readdirSync(dir)) if (f.startsWith('.tmp-')) rmSync(path.join(dir, f), { recursive: true, force: true });
  }

  private get stateFile(): string {
    return path.join(this.dir, 'registry.json');
  }

  private state(): RegistryState {
    if (!existsSync(this.stateFile)) return { champions: {}, health: {}, history: [] };
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as Partial<RegistryState> & { champion?: unknown };
      if (!Array.isArray(s.history)) throw new Error('unexpected shape');
      const history = s.history.map((h) => ({ ...h, kind: h.kind ?? this.facts(h.version).kind }));
      if (s.health !== undefined && !isStringMap(s.health)) throw new Error('health is not a map of kind to version');
      const health = s.health ?? {};
      if (s.champions !== undefined) {
        if (!isStringMap(s.champions)) throw new Error('champions is not a map of kind to version');
        return { champions: s.champions, health, history };
      }
      // Written before kinds: one champion, of the kind its meta.json names.
      if (s.champion !== null && s.champion !== undefined && typeof s.champion !== 'string') throw new Error('unexpected shape');
      return { champions: s.champion ? { [this.facts(s.champion).kind]: s.champion } : {}, health, history };
    } catch (err) {
      throw new RegistryError(`${this.stateFile} is damaged: ${(err as Error).message}`);
    }
  }

  /** A version's kind and role never change once written: read once (a registry from before kinds asks for every history entry). */
  private readonly known = new Map<string, { kind: string; role: ModelRole }>();

  private facts(version: string): { kind: string; role: ModelRole } {
    const seen = this.known.get(version);
    if (seen !== undefined) return seen;
    try {
      const meta = this.meta(version);
      const facts = { kind: kindOf(meta), role: roleOf(meta) };
      if (this.known.size >= 10_000) this.known.clear();
      this.known.set(version, facts);
      return facts;
    } catch {
      // Unreadable (or gone): not remembered, so a repaired version is read again.
      return { kind: ANY_KIND, role: 'failure' };
    }
  }

  private writeState(s: RegistryState): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileDurable(tmp, `${JSON.stringify(s, null, 2)}\n`);
    renameSync(tmp, this.stateFile);
    syncDirectory(this.dir);
  }

  private static mapOf(s: RegistryState, role: ModelRole): Record<string, string> {
    return role === 'health' ? s.health : s.champions;
  }

  versions(): string[] {
    return readdirSync(this.dir)
      .filter((f) => VERSION_DIR.test(f) && existsSync(path.join(this.dir, f, 'meta.json')))
      .sort();
  }

  nextVersion(): string {
    const last = this.versions().at(-1);
    return `v${String(last ? Number(last.slice(1)) + 1 : 1).padStart(4, '0')}`;
  }

  /** A version's meta.json, of either role, validated. */
  meta(version: string): AnyModelMeta {
    if (!VERSION_DIR.test(version))
      throw new RegistryError(`no model version ${JSON.stringify(version)}`, `no model version ${JSON.stringify(version.slice(0, 40))}`);
    const file = path.join(this.dir, version, 'meta.json');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT')
        throw new RegistryError(
          `model version ${version} does not exist in ${this.dir} (\`vigil models list\` shows the versions there)`,
          `model version ${version} does not exist`,
        );
      throw new RegistryError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const health = typeof raw === 'object' && raw !== null && (raw as { role?: unknown }).role === 'health';
    const schema = health ? HealthMetaSchema : ModelMetaSchema;
    if (!Value.Check(schema, raw)) {
      const e = [...Value.Errors(schema, raw)][0];
      throw new RegistryError(`${file} is invalid at ${e?.path || '/'}: ${e?.message}`);
    }
    const meta = raw as AnyModelMeta;
    const badScaling = normalisationProblem(meta.normalisation);
    if (badScaling) throw new RegistryError(`${file} is invalid at /normalisation: ${badScaling}`);
    const badCalibration = health ? calibrationProblem(meta as HealthModelMeta) : null;
    if (badCalibration) throw new RegistryError(`${file} is invalid at /calibration: ${badCalibration}`);
    return meta;
  }

  /** A failure model's meta.json; a health model's version is refused. */
  failureMeta(version: string): ModelMeta {
    const m = this.meta(version);
    if (m.role === 'health') throw new RegistryError(`${version} is a health model, not a failure model`);
    return m;
  }

  /** A health model's meta.json; a failure model's version is refused. */
  healthMeta(version: string): HealthModelMeta {
    const m = this.meta(version);
    if (m.role !== 'health') throw new RegistryError(`${version} is a failure model, not a health model`);
    return m;
  }

  /** Every version (of one kind and role, when given), each marked when it is its kind's champion of its role. */
  list(kind?: string, role?: ModelRole): Array<AnyModelMeta & { champion: boolean }> {
    const s = this.state();
    return this.versions()
      .map((v) => this.meta(v))
      .filter((m) => (kind === undefined || kindOf(m) === kind) && (role === undefined || roleOf(m) === role))
      .map((m) => ({ ...m, champion: ModelRegistry.mapOf(s, roleOf(m))[kindOf(m)] === m.version }));
  }

  /** The champion of each kind, of one role. */
  champions(role: ModelRole = 'failure'): Record<string, string> {
    return { ...ModelRegistry.mapOf(this.state(), role) };
  }

  /**
   * The champion of `kind` in `role`; without a kind, the role's only champion (null with none, and
   * with several kinds, each with its own: name the kind then).
   */
  championVersion(kind?: string, role: ModelRole = 'failure'): string | null {
    const champions = ModelRegistry.mapOf(this.state(), role);
    if (kind !== undefined) return champions[kind] ?? null;
    const all = Object.values(champions);
    return all.length === 1 ? all[0]! : null;
  }

  /** What scores a machine of `kind` in `role`: its kind's champion, else (failure only) a model from before kinds. */
  servingVersion(kind: string, role: ModelRole = 'failure'): string | null {
    const champions = ModelRegistry.mapOf(this.state(), role);
    return champions[kind] ?? (role === 'failure' ? champions[ANY_KIND] : undefined) ?? null;
  }

  /** The newest version of `kind` in `role` (promoted or not): why a kind has no model is in its decision. */
  newestVersion(kind: string, role: ModelRole = 'failure'): AnyModelMeta | null {
    const versions = this.versions();
    for (let i = versions.length - 1; i >= 0; i--) {
      const facts = this.facts(versions[i]!);
      if (facts.kind === kind && facts.role === role) return this.meta(versions[i]!);
    }
    return null;
  }

  history(kind?: string, role?: ModelRole): RegistryEvent[] {
    return this.state().history.filter(
      (e) => (kind === undefined || e.kind === kind) && (role === undefined || (e.role ?? 'failure') === role),
    );
  }

  async save(tf: TF, model: LayersModel, meta: AnyModelMeta): Promise<void> {
    const finalDir = path.join(this.dir, meta.version);
    if (existsSync(finalDir)) throw new RegistryError(`version ${meta.version} exists already`);
    const tmp = path.join(this.dir, `.tmp-${meta.version}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    await model.save(fileHandler(tf, tmp));
    writeFileDurable(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    syncDirectory(tmp);
    renameSync(tmp, finalDir);
    syncDirectory(this.dir);
  }

  async load(tf: TF, version: string): Promise<LayersModel> {
    this.meta(version);
    return tf.loadLayersModel(fileHandler(tf, path.join(this.dir, version)));
  }

  /**
   * Called when a kind's champion may have changed: a promotion or rollback through this object, or
   * one a worker made in the same directory (its owner says so with `championsChanged`).
   */
  onChampionsChanged(listener: () => void): void {
    this.championListeners.push(listener);
  }

  /** Tells this process's listeners that the champions may have changed (a worker promoted one). */
  championsChanged(): void {
    for (const l of this.championListeners) l();
  }

  /** Makes `version` the champion of its kind in its role. */
  promote(version: string, reason: string): void {
    const meta = this.meta(version);
    const kind = kindOf(meta);
    const role = roleOf(meta);
    const s = this.state();
    ModelRegistry.mapOf(s, role)[kind] = version;
    s.history.push({ at: new Date().toISOString(), version, kind, role, action: 'promoted', reason });
    this.writeState(s);
    this.championsChanged();
  }

  /**
   * Back to the champion of `kind` in `role` before its current one, or to `version` (then of its own
   * kind and role). Without either, the kind is the role's only one with a champion.
   */
  rollback(version?: string, kind?: string, role?: ModelRole): string {
    const s = this.state();
    const named = version ? this.facts(version) : null;
    const r: ModelRole = role ?? named?.role ?? 'failure';
    const champions = ModelRegistry.mapOf(s, r);
    let k = kind ?? named?.kind;
    if (k === undefined) {
      const kinds = Object.keys(champions);
      if (kinds.length !== 1) {
        const m =
          kinds.length === 0
            ? `no ${r === 'health' ? 'health ' : ''}champion to roll back from`
            : `name the kind to roll back: ${kinds.sort().join(', ')}`;
        throw new RegistryError(m, m);
      }
      k = kinds[0]!;
    }
    const current = champions[k] ?? null;
    let target = version;
    if (!target) {
      const previous = s.history.filter((h) => h.kind === k && (h.role ?? 'failure') === r && h.version !== current).at(-1);
      const what = r === 'health' ? `health champion of ${k}` : `champion of ${k}`;
      if (!previous) throw new RegistryError(`no earlier ${what} to roll back to`, `no earlier ${what} to roll back to`);
      target = previous.version;
    }
    const meta = this.meta(target);
    if (kindOf(meta) !== k || roleOf(meta) !== r) {
      const m =
        roleOf(meta) === r ? `${target} serves ${kindOf(meta)}, not ${k}` : `${target} is a ${roleOf(meta)} model, not a ${r} model`;
      throw new RegistryError(m, m);
    }
    s.history.push({
      at: new Date().toISOString(),
      version: target,
      kind: k,
      role: r,
      action: 'rolled-back',
      reason: `rolled back from ${current ?? 'none'}`,
    });
    champions[k] = target;
    this.writeState(s);
    this.championsChanged();
    return target;
  }

  /**
   * Deletes each kind's oldest versions of each role beyond `retain`; every champion and each kind's
   * rollback targets in recent history stay.
   */
  enforceRetention(retain: number): string[] {
    const s = this.state();
    const byKey = new Map<string, { kind: string; role: ModelRole; versions: string[] }>();
    for (const v of this.versions()) {
      const f = this.facts(v);
      const key = `${f.role}:${f.kind}`;
      const entry = byKey.get(key) ?? { ...f, versions: [] };
      entry.versions.push(v);
      byKey.set(key, entry);
    }
    const removed: string[] = [];
    for (const { kind, role, versions } of byKey.values()) {
      const recent = s.history.filter((h) => h.kind === kind && (h.role ?? 'failure') === role).slice(-3);
      const champion = ModelRegistry.mapOf(s, role)[kind];
      const keep = new Set([champion, ...recent.map((h) => h.version)].filter((v): v is string => v !== undefined));
      const removable = versions.filter((v) => !keep.has(v));
      removed.push(...removable.slice(0, Math.max(0, versions.length - retain)));
    }
    for (const v of removed) rmSync(path.join(this.dir, v), { recursive: true, force: true });
    return removed.sort();
  }
}
