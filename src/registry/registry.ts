import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type TF, fileHandler } from '../model/index.js';
import { syncDirectory, writeFileDurable } from '../core/durable-fs.js';
import { ANY_KIND } from '../core/kinds.js';
import { BiasReportSchema } from './bias-report-schema.js';

const Metrics = Type.Object({
  classification: Type.Object({
    threshold: Type.Number(),
    accuracy: Type.Number(),
    precision: Type.Number(),
    recall: Type.Number(),
    f1: Type.Number(),
    prAuc: Type.Number(),
    rocAuc: Type.Number(),
    positives: Type.Integer(),
    n: Type.Integer(),
  }),
  rul: Type.Object({ rmse: Type.Number(), mae: Type.Number(), score: Type.Number(), n: Type.Integer() }),
});

/** A model's input scaling (features/normalize.ts), as meta.json and federation plans carry it. */
export const NormalisationSchema = Type.Object({
  sensors: Type.Array(Type.String()),
  mean: Type.Array(Type.Number()),
  std: Type.Array(Type.Number()),
  dropped: Type.Array(Type.String()),
  regimes: Type.Optional(
    Type.Object({
      model: Type.Object({
        conditions: Type.Array(Type.String(), { minItems: 1 }),
        centre: Type.Array(Type.Number()),
        scale: Type.Array(Type.Number({ exclusiveMinimum: 0 })),
        centroids: Type.Array(Type.Array(Type.Number()), { minItems: 2 }),
        chosenBy: Type.Union([Type.Literal('given'), Type.Literal('rule')]),
        explained: Type.Number(),
        trainShare: Type.Array(Type.Number()),
      }),
      mean: Type.Array(Type.Array(Type.Number())),
      std: Type.Array(Type.Array(Type.Number({ exclusiveMinimum: 0 }))),
    }),
  ),
});

/** meta.json: what a model is, what it learned from and how good it was. Validated whenever read. */
export const ModelMetaSchema = Type.Object({
  version: Type.String({ pattern: '^v\\d{4,}$' }),
  /** The machine kind it serves; absent in versions from before kinds, which serve any kind without its own champion. */
  kind: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  createdAt: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()]),
  warmStartedFrom: Type.Union([Type.String(), Type.Null()]),
  /** The champion of another kind whose weights it started from (transfer to a kind with few failures). */
  transferredFrom: Type.Optional(Type.Union([Type.Object({ version: Type.String(), kind: Type.String() }), Type.Null()])),
  /** The federated training it came from: the federation, its last round and the gateways in it. */
  federation: Type.Optional(
    Type.Union([
      Type.Object({
        id: Type.String(),
        session: Type.String(),
        round: Type.Integer({ minimum: 1 }),
        clients: Type.Array(Type.String()),
        personalised: Type.Boolean(),
      }),
      Type.Null(),
    ]),
  ),
  decision: Type.Object({ promoted: Type.Boolean(), reason: Type.String() }),
  dataRange: Type.Object({ from: Type.Number(), to: Type.Number() }),
  machines: Type.Object({ train: Type.Integer(), validation: Type.Array(Type.String()), splitMethod: Type.String() }),
  sensors: Type.Array(Type.String(), { minItems: 1 }),
  dropped: Type.Array(Type.String()),
  stepMs: Type.Number({ exclusiveMinimum: 0 }),
  window: Type.Integer({ minimum: 1 }),
  horizon: Type.Integer({ minimum: 1 }),
  rulCap: Type.Integer({ minimum: 1 }),
  normalisation: NormalisationSchema,
  architecture: Type.Object({
    units: Type.Array(Type.Integer()),
    dropout: Type.Number(),
    recurrentActivation: Type.String(),
    learningRate: Type.Number(),
    batchSize: Type.Integer(),
    /** Models averaged in this one (an ensemble); absent in older versions, which have one. */
    members: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
  threshold: Type.Number(),
  metrics: Type.Object({
    validation: Metrics,
    leadTime: Type.Object({ detected: Type.Integer(), missed: Type.Integer(), meanLeadMs: Type.Union([Type.Number(), Type.Null()]) }),
    championOnSameData: Type.Union([Type.Intersect([Metrics, Type.Object({ version: Type.String() })]), Type.Null()]),
    /** RUL error by true-RUL band (steps), near failure first; absent in older versions. */
    rulBands: Type.Optional(
      Type.Array(
        Type.Object({
          from: Type.Number(),
          to: Type.Union([Type.Number(), Type.Null()]),
          n: Type.Integer(),
          bias: Type.Number(),
          rmse: Type.Number(),
        }),
      ),
    ),
  }),
  training: Type.Object({
    backend: Type.String(),
    provider: Type.String(),
    durationMs: Type.Number(),
    epochs: Type.Integer(),
    bestEpoch: Type.Integer(),
    samplesPerSecond: Type.Number(),
    /** Which LSTM implementation trained it, e.g. "fast (relaxed-simd, 2 threads)"; absent in older versions. */
    lstmKernel: Type.Optional(Type.String()),
    seed: Type.Integer(),
    stoppedEarly: Type.Boolean(),
    /** Per member of an ensemble: its seed, epochs trained and best epoch. */
    members: Type.Optional(
      Type.Array(Type.Object({ seed: Type.Integer(), epochs: Type.Integer(), bestEpoch: Type.Integer(), stoppedEarly: Type.Boolean() })),
    ),
  }),
  data: Type.Record(Type.String(), Type.Unknown()),
  /** What the model learned from and what it did not see (training/bias-report.ts); absent in older versions. */
  report: Type.Optional(BiasReportSchema),
});
export type ModelMeta = Static<typeof ModelMetaSchema>;

/** Shapes the schema cannot state: every per-sensor list as long as the sensors, every regime complete. */
export function normalisationProblem(n: ModelMeta['normalisation']): string | null {
  const S = n.sensors.length;
  if (n.mean.length !== S || n.std.length !== S) return `${S} sensors but ${n.mean.length} means and ${n.std.length} standard deviations`;
  if (!n.regimes) return null;
  const { model, mean, std } = n.regimes;
  const C = model.conditions.length;
  const K = model.centroids.length;
  if (model.centre.length !== C || model.scale.length !== C || model.centroids.some((c) => c.length !== C))
    return `regime centroids do not have one value per condition (${C})`;
  if (mean.length !== K || std.length !== K || model.trainShare.length !== K) return `${K} regimes but statistics for ${mean.length}`;
  if ([...mean, ...std].some((row) => row.length !== S)) return `a regime's statistics do not have one value per sensor (${S})`;
  return null;
}

export interface RegistryEvent {
  at: string;
  version: string;
  kind: string;
  action: 'promoted' | 'rolled-back';
  reason: string;
}

interface RegistryState {
  /** The champion of each machine kind. */
  champions: Record<string, string>;
  history: RegistryEvent[];
}

/** The kind a version serves. */
export function kindOf(meta: Pick<ModelMeta, 'kind'>): string {
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

/**
 * Versions under one directory: `<dir>/v0001/{model.json, weights.bin, meta.json}` and
 * `registry.json` naming the champion. A version is written in a temp directory, fsynced and renamed
 * into place, and registry.json is replaced atomically, so a crash at any point leaves the champion
 * and every finished version intact.
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
    if (!existsSync(this.stateFile)) return { champions: {}, history: [] };
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as Partial<RegistryState> & { champion?: unknown };
      if (!Array.isArray(s.history)) throw new Error('unexpected shape');
      const history = s.history.map((h) => ({ ...h, kind: h.kind ?? this.kindOfVersion(h.version) }));
      if (s.champions !== undefined) {
        if (typeof s.champions !== 'object' || s.champions === null || Object.values(s.champions).some((v) => typeof v !== 'string'))
          throw new Error('champions is not a map of kind to version');
        return { champions: s.champions, history };
      }
      // Written before kinds: one champion, of the kind its meta.json names.
      if (s.champion !== null && s.champion !== undefined && typeof s.champion !== 'string') throw new Error('unexpected shape');
      return { champions: s.champion ? { [this.kindOfVersion(s.champion)]: s.champion } : {}, history };
    } catch (err) {
      throw new RegistryError(`${this.stateFile} is damaged: ${(err as Error).message}`);
    }
  }

  /** A version's kind never changes once written: read once (a registry from before kinds asks for every history entry). */
  private readonly kinds = new Map<string, string>();

  private kindOfVersion(version: string): string {
    const known = this.kinds.get(version);
    if (known !== undefined) return known;
    try {
      const kind = kindOf(this.meta(version));
      if (this.kinds.size >= 10_000) this.kinds.clear();
      this.kinds.set(version, kind);
      return kind;
    } catch {
      // Unreadable (or gone): not remembered, so a repaired version is read again.
      return ANY_KIND;
    }
  }

  private writeState(s: RegistryState): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileDurable(tmp, `${JSON.stringify(s, null, 2)}\n`);
    renameSync(tmp, this.stateFile);
    syncDirectory(this.dir);
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

  meta(version: string): ModelMeta {
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
    if (!Value.Check(ModelMetaSchema, raw)) {
      const e = [...Value.Errors(ModelMetaSchema, raw)][0];
      throw new RegistryError(`${file} is invalid at ${e?.path || '/'}: ${e?.message}`);
    }
    const inconsistent = normalisationProblem(raw.normalisation);
    if (inconsistent) throw new RegistryError(`${file} is invalid at /normalisation: ${inconsistent}`);
    return raw;
  }

  /** Every version (of one kind, when given), each marked when it is its kind's champion. */
  list(kind?: string): Array<ModelMeta & { champion: boolean }> {
    const champions = this.state().champions;
    return this.versions()
      .map((v) => this.meta(v))
      .filter((m) => kind === undefined || kindOf(m) === kind)
      .map((m) => ({ ...m, champion: champions[kindOf(m)] === m.version }));
  }

  /** The champion of each kind. */
  champions(): Record<string, string> {
    return { ...this.state().champions };
  }

  /**
   * The champion of `kind`; without a kind, the only champion (null with none, and with several
   * kinds, each with its own: name the kind then).
   */
  championVersion(kind?: string): string | null {
    const champions = this.state().champions;
    if (kind !== undefined) return champions[kind] ?? null;
    const all = Object.values(champions);
    return all.length === 1 ? all[0]! : null;
  }

  /** What scores a machine of `kind`: its kind's champion, else a model from before kinds. */
  servingVersion(kind: string): string | null {
    const champions = this.state().champions;
    return champions[kind] ?? champions[ANY_KIND] ?? null;
  }

  /** The newest version of `kind` (promoted or not): why a kind has no model is in its decision. */
  newestVersion(kind: string): ModelMeta | null {
    const versions = this.versions();
    for (let i = versions.length - 1; i >= 0; i--) {
      const m = this.meta(versions[i]!);
      if (kindOf(m) === kind) return m;
    }
    return null;
  }

  history(kind?: string): RegistryEvent[] {
    const h = this.state().history;
    return kind === undefined ? h : h.filter((e) => e.kind === kind);
  }

  async save(tf: TF, model: LayersModel, meta: ModelMeta): Promise<void> {
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

  /** Makes `version` the champion of its kind. */
  promote(version: string, reason: string): void {
    const kind = kindOf(this.meta(version));
    const s = this.state();
    s.champions[kind] = version;
    s.history.push({ at: new Date().toISOString(), version, kind, action: 'promoted', reason });
    this.writeState(s);
    this.championsChanged();
  }

  /**
   * Back to the champion of `kind` before its current one, or to `version` (then of its own kind).
   * Without either, the kind is the only one with a champion.
   */
  rollback(version?: string, kind?: string): string {
    const s = this.state();
    let k = kind ?? (version ? kindOf(this.meta(version)) : undefined);
    if (k === undefined) {
      const kinds = Object.keys(s.champions);
      if (kinds.length !== 1) {
        const m = kinds.length === 0 ? 'no champion to roll back from' : `name the kind to roll back: ${kinds.sort().join(', ')}`;
        throw new RegistryError(m, m);
      }
      k = kinds[0]!;
    }
    const current = s.champions[k] ?? null;
    let target = version;
    if (!target) {
      const previous = s.history.filter((h) => h.kind === k && h.version !== current).at(-1);
      if (!previous) throw new RegistryError(`no earlier champion of ${k} to roll back to`, `no earlier champion of ${k} to roll back to`);
      target = previous.version;
    }
    const targetKind = kindOf(this.meta(target));
    if (targetKind !== k) throw new RegistryError(`${target} serves ${targetKind}, not ${k}`, `${target} serves ${targetKind}, not ${k}`);
    s.history.push({
      at: new Date().toISOString(),
      version: target,
      kind: k,
      action: 'rolled-back',
      reason: `rolled back from ${current ?? 'none'}`,
    });
    s.champions[k] = target;
    this.writeState(s);
    this.championsChanged();
    return target;
  }

  /**
   * Deletes each kind's oldest versions beyond `retain`; every champion and each kind's rollback
   * targets in recent history stay.
   */
  enforceRetention(retain: number): string[] {
    const s = this.state();
    const byKind = new Map<string, string[]>();
    for (const v of this.versions()) {
      const k = this.kindOfVersion(v);
      byKind.set(k, [...(byKind.get(k) ?? []), v]);
    }
    const removed: string[] = [];
    for (const [kind, versions] of byKind) {
      const recent = s.history.filter((h) => h.kind === kind).slice(-3);
      const keep = new Set([s.champions[kind], ...recent.map((h) => h.version)].filter((v): v is string => v !== undefined));
      const removable = versions.filter((v) => !keep.has(v));
      removed.push(...removable.slice(0, Math.max(0, versions.length - retain)));
    }
    for (const v of removed) rmSync(path.join(this.dir, v), { recursive: true, force: true });
    return removed.sort();
  }
}
