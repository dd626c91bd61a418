import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { TF } from '../model/backend.js';
import { syncDirectory, writeFileDurable } from '../core/durable-fs.js';
import { fileHandler } from '../model/file-io.js';
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

/** meta.json: what a model is, what it learned from and how good it was. Validated whenever read. */
export const ModelMetaSchema = Type.Object({
  version: Type.String({ pattern: '^v\\d{4,}$' }),
  createdAt: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()]),
  warmStartedFrom: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Object({ promoted: Type.Boolean(), reason: Type.String() }),
  dataRange: Type.Object({ from: Type.Number(), to: Type.Number() }),
  machines: Type.Object({ train: Type.Integer(), validation: Type.Array(Type.String()), splitMethod: Type.String() }),
  sensors: Type.Array(Type.String(), { minItems: 1 }),
  dropped: Type.Array(Type.String()),
  stepMs: Type.Number({ exclusiveMinimum: 0 }),
  window: Type.Integer({ minimum: 1 }),
  horizon: Type.Integer({ minimum: 1 }),
  rulCap: Type.Integer({ minimum: 1 }),
  normalisation: Type.Object({
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
  }),
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
function normalisationProblem(n: ModelMeta['normalisation']): string | null {
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

interface RegistryState {
  champion: string | null;
  history: Array<{ at: string; version: string; action: 'promoted' | 'rolled-back'; reason: string }>;
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
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // Leftovers of saves interrupted by a crash.
    for (const f of readdirSync(dir)) if (f.startsWith('.tmp-')) rmSync(path.join(dir, f), { recursive: true, force: true });
  }

  private get stateFile(): string {
    return path.join(this.dir, 'registry.json');
  }

  private state(): RegistryState {
    if (!existsSync(this.stateFile)) return { champion: null, history: [] };
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as RegistryState;
      if ((s.champion !== null && typeof s.champion !== 'string') || !Array.isArray(s.history)) throw new Error('unexpected shape');
      return s;
    } catch (err) {
      throw new RegistryError(`${this.stateFile} is damaged: ${(err as Error).message}`);
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
        throw new RegistryError(`model version ${version} does not exist in ${this.dir}`, `model version ${version} does not exist`);
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

  list(): Array<ModelMeta & { champion: boolean }> {
    const champion = this.state().champion;
    return this.versions().map((v) => ({ ...this.meta(v), champion: v === champion }));
  }

  championVersion(): string | null {
    return this.state().champion;
  }

  history(): RegistryState['history'] {
    return this.state().history;
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

  promote(version: string, reason: string): void {
    this.meta(version);
    const s = this.state();
    s.champion = version;
    s.history.push({ at: new Date().toISOString(), version, action: 'promoted', reason });
    this.writeState(s);
  }

  /** Back to the champion before the current one, or to `version`. */
  rollback(version?: string): string {
    const s = this.state();
    let target = version;
    if (!target) {
      const previous = s.history.filter((h) => h.version !== s.champion).at(-1);
      if (!previous) throw new RegistryError('no earlier champion to roll back to', 'no earlier champion to roll back to');
      target = previous.version;
    }
    this.meta(target);
    s.history.push({
      at: new Date().toISOString(),
      version: target,
      action: 'rolled-back',
      reason: `rolled back from ${s.champion ?? 'none'}`,
    });
    s.champion = target;
    this.writeState(s);
    return target;
  }

  /** Deletes the oldest versions beyond `retain`; the champion and rollback targets in recent history stay. */
  enforceRetention(retain: number): string[] {
    const s = this.state();
    const keep = new Set([s.champion, ...s.history.slice(-3).map((h) => h.version)].filter((v): v is string => v !== null));
    const versions = this.versions();
    const removable = versions.filter((v) => !keep.has(v));
    const excess = versions.length - retain;
    const removed = removable.slice(0, Math.max(0, excess));
    for (const v of removed) rmSync(path.join(this.dir, v), { recursive: true, force: true });
    return removed;
  }
}
