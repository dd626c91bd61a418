import type { TrainingConfig } from './worker-input.js';
import type { LayersModel } from '@tensorflow/tfjs';
import { borrowStatistics, inputNames, type Normalisation } from '../features/normalize.js';
import { loadTf, quietTfWarnings } from '../model/backend.js';
import { loadFastLstm } from '../model/fast-lstm/load.js';
import { extractMember } from '../model/ensemble.js';
import { compile, type LstmSpec } from '../model/lstm.js';
import { KindResolver } from '../core/kinds.js';
import { groupByKind, type KindGroup } from '../features/kinds.js';
import { createSensorStore } from '../store/create.js';
import { dataReport, scoreOnHeldOut, validationMetrics } from './meta-parts.js';
import { transferSource, transferredMembers } from './transfer.js';
import { loadDataset } from './dataset.js';
import type { EpochProgress } from './fit.js';
import { prepareData, trainAndValidate, type Validation } from './pipeline.js';
import { heldOutFailures } from '../features/split.js';
import { ModelRegistry, kindOf, type ModelMeta } from '../registry/registry.js';

export type TrainingProgress =
  | { phase: 'loading' | 'preparing' | 'evaluating' | 'saving'; message: string }
  | ({ phase: 'training' } & EpochProgress)
  | { phase: 'batch'; done: number; total: number; epoch: number; epochs: number; member: number; members: number };

export interface TrainingRequest {
  config: TrainingConfig;
  now: number;
  kind?: string;
  warmStart?: boolean;
  epochs?: number;
  onProgress?: (p: TrainingProgress) => void;
  shouldStop?: () => boolean;
}

export interface TrainingResult {
  cancelled: boolean;
  meta: ModelMeta | null;
}

export class NotEnoughDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotEnoughDataError';
  }
}

/**
 * One training run: data from the store, a challenger trained (fine-tuned from the champion when the
 * features are unchanged), both scored on the same held-out data, the challenger saved and promoted
 * only if it is better. Runs in the training worker, never on the daemon's event loop.
 */
export async function runTraining(req: TrainingRequest): Promise<TrainingResult> {
  const started = Date.now();
  const cfg = req.config.learning;
  const progress = req.onProgress ?? (() => undefined);
  quietTfWarnings();
  const { tf, backend, provider } = await loadTf(cfg.backend);
  const lstm = await loadFastLstm(tf, { preference: cfg.lstmKernel, ...(cfg.kernelThreads > 0 ? { threads: cfg.kernelThreads } : {}) });
  const registry = new ModelRegistry(cfg.modelsDir);

  progress({ phase: 'loading', message: `reading ${cfg.lookback / 86_400_000} days of data from the ${req.config.store.kind} store` });
  const store = createSensorStore(req.config);
  await store.open();
  let dataset;
  let kind: KindGroup;
  try {
    const kinds = groupByKind(await store.listMachines(), new KindResolver(req.config.machines));
    const failed = (await store.queryEvents({ from: req.now - cfg.lookback, to: req.now + 1, types: ['failure'] })).map(
      (e) => e.machine.machine,
    );
    kind = chooseKind(kinds, req.kind, registry, failed);
    dataset = await loadDataset(store, cfg, req.now, kind);
  } finally {
    await store.close();
  }
  if (dataset.failures === 0)
    throw new NotEnoughDataError(
      `no failure events of ${kind.kind} machines in the last ${cfg.lookback / 86_400_000} days: nothing to learn from yet`,
    );

  progress({
    phase: 'preparing',
    message: `${kind.kind}: ${dataset.machines} machines, ${dataset.failures} failures, ${dataset.quality.samples} samples; ${backend} backend, LSTM ${lstm.describe}`,
  });
  const championVersion = registry.championVersion(kind.kind);
  const champion = championVersion ? registry.meta(championVersion) : null;
  const regimes =
    cfg.conditions.length > 0
      ? {
          conditions: cfg.conditions,
          k: cfg.regimes.count === 'auto' ? undefined : cfg.regimes.count,
          maxK: cfg.regimes.maxCount,
          minExplained: cfg.regimes.minExplained,
          seed: cfg.model.seed,
        }
      : undefined;
  // Scaling fitted on the training split (regimes included), or a given one a starting model was learned on.
  const prepare = (normalisation?: Normalisation) =>
    prepareData(dataset.items, dataset.sensors, {
      windowSteps: cfg.window,
      stride: cfg.stride,
      validationFraction: cfg.validationFraction,
      positiveShare: cfg.positiveShare,
      seed: cfg.model.seed,
      ...(normalisation ? { normalisation } : { regimes }),
    });
  let data = prepare();
  const sameFeatures =
    champion !== null &&
    champion.window === cfg.window &&
    champion.stepMs === cfg.step &&
    champion.horizon === cfg.horizon &&
    champion.rulCap === cfg.rulCap &&
    JSON.stringify(inputNames(champion.normalisation)) === JSON.stringify(inputNames(data.norm)) &&
    JSON.stringify(champion.architecture.units) === JSON.stringify(cfg.model.units);
  const warm = (req.warmStart ?? cfg.model.warmStart) && sameFeatures;
  const spec: LstmSpec = {
    windowSteps: cfg.window,
    features: inputNames(data.norm).length,
    units: cfg.model.units,
    dropout: cfg.model.dropout,
    learningRate: cfg.model.learningRate,
    seed: cfg.model.seed,
    recurrentActivation: 'sigmoid',
    kernel: lstm.kernel,
  };
  const initial: Array<LayersModel | undefined> = [];
  // A kind's first model starts from a related kind's champion when its own failures are too few to
  // validate a model from scratch (a model from scratch is preferred when they are not).
  const source =
    !champion && cfg.transfer.enabled && heldOutFailures(data.split) < cfg.minValidationFailures
      ? transferSource(registry, kind.kind, data.norm.sensors, {
          stepMs: cfg.step,
          window: cfg.window,
          horizon: cfg.horizon,
          rulCap: cfg.rulCap,
          units: cfg.model.units,
          minShared: cfg.transfer.minSharedSensors,
        })
      : null;
  if (source) {
    // Its weights were learned on its scaling: the shared sensors keep it.
    data = prepare(borrowStatistics(data.norm, source.normalisation));
    spec.learningRate = cfg.model.learningRate * cfg.transfer.learningRateFactor;
    const loaded = await registry.load(tf, source.version);
    initial.push(...transferredMembers(tf, loaded, source.normalisation, data.norm, spec, cfg.model.members));
    loaded.dispose();
    progress({
      phase: 'preparing',
      message: `${kind.kind}: starting from ${source.version} (${kindOf(source)}), ${data.norm.sensors.filter((x) => source.normalisation.sensors.includes(x)).length} of ${data.norm.sensors.length} sensors shared`,
    });
  }
  if (warm && champion) {
    // Fine-tuning keeps the champion's scaling, so its weights mean what they meant.
    data = prepare(champion.normalisation);
    const loaded = await registry.load(tf, champion.version);
    // Each member starts from the champion's member of the same index; members it lacks start afresh.
    for (let k = 0; k < cfg.model.members; k++) {
      const member = extractMember(tf, loaded, k, { ...spec, seed: cfg.model.seed + 1000 * k });
      if (member) compile(tf, member, cfg.model.learningRate);
      initial.push(member ?? undefined);
    }
    loaded.dispose();
  }
  if (data.report.trainWindows < 10 || data.report.trainPositives === 0) {
    throw new NotEnoughDataError(
      `not enough labelled windows: ${data.report.trainWindows} for training, ${data.report.trainPositives} of them before a failure`,
    );
  }
  if (data.validation.n === 0) throw new NotEnoughDataError('no labelled windows left for validation');

  const outcome = await trainAndValidate(
    tf,
    data,
    spec,
    {
      members: cfg.model.members,
      epochs: req.epochs ?? cfg.model.epochs,
      batchSize: cfg.model.batchSize,
      patience: cfg.model.patience,
      reduceLrAfter: Math.max(2, Math.floor(cfg.model.patience / 2)),
      monitor: cfg.model.monitor,
      rulCap: cfg.rulCap,
      horizon: cfg.horizon,
      stepMs: cfg.step,
      onEpoch: (p) => progress({ phase: 'training', ...p }),
      bootstrap: { samples: 200, seed: cfg.model.seed },
      onBatch: (done, total, epoch, member, members) =>
        progress({ phase: 'batch', done, total, epoch, epochs: req.epochs ?? cfg.model.epochs, member, members }),
      shouldStop: req.shouldStop,
    },
    initial,
  );
  if (outcome.fit.cancelled) return { cancelled: true, meta: null };

  progress({ phase: 'evaluating', message: 'scoring the champion (or the transfer source) on the same held-out data' });
  // A transferred model is measured against its source unchanged: what it must improve on.
  const baseline = champion ?? (source && initial.length > 0 ? source : null);
  const championOnSame = baseline ? await scoreOnHeldOut(tf, registry, baseline, data.split.validation, cfg.stride) : null;
  const v = outcome.validation;
  const transferred = source !== null && initial.length > 0;
  const decision = transferred
    ? decideTransfer(v, championOnSame, { minValidationFailures: cfg.transfer.minValidationFailures, kind: kind.kind })
    : decide(v, championOnSame, { minValidationFailures: cfg.minValidationFailures, kind: kind.kind });

  progress({ phase: 'saving', message: decision.reason });
  const version = registry.nextVersion();
  const meta: ModelMeta = {
    version,
    kind: kind.kind,
    createdAt: new Date().toISOString(),
    parent: championVersion,
    warmStartedFrom: warm && champion && initial.some(Boolean) ? champion.version : null,
    transferredFrom: transferred ? { version: source.version, kind: kindOf(source) } : null,
    decision,
    dataRange: { from: dataset.from, to: dataset.to },
    machines: { train: data.report.trainMachines, validation: data.report.validationMachines, splitMethod: data.report.splitMethod },
    sensors: data.norm.sensors,
    dropped: data.norm.dropped,
    stepMs: cfg.step,
    window: cfg.window,
    horizon: cfg.horizon,
    rulCap: cfg.rulCap,
    normalisation: data.norm,
    architecture: {
      units: cfg.model.units,
      dropout: cfg.model.dropout,
      recurrentActivation: 'sigmoid',
      learningRate: cfg.model.learningRate,
      batchSize: cfg.model.batchSize,
      members: cfg.model.members,
    },
    threshold: v.threshold,
    metrics: validationMetrics(v, championOnSame),
    training: {
      backend,
      provider,
      durationMs: Date.now() - started,
      epochs: outcome.fit.history.length,
      bestEpoch: outcome.fit.bestEpoch,
      samplesPerSecond: Math.round(outcome.fit.samplesPerSecond),
      lstmKernel: lstm.describe,
      seed: cfg.model.seed,
      stoppedEarly: outcome.fit.stoppedEarly,
      ...(outcome.members.length > 1 ? { members: outcome.members } : {}),
    },
    ...dataReport(data, dataset, v),
  };
  await registry.save(tf, outcome.model, meta);
  if (decision.promoted) registry.promote(version, decision.reason);
  registry.enforceRetention(cfg.retain);
  outcome.model.dispose();
  return { cancelled: false, meta };
}

/**
 * The kind a run trains: the one asked for, else the kind most in need — kinds with labelled
 * failures before those without, then kinds without a champion, then the most failures, then by name.
 */
export function chooseKind(
  kinds: KindGroup[],
  asked: string | undefined,
  registry: Pick<ModelRegistry, 'championVersion'>,
  failedMachines: readonly string[] = [],
): KindGroup {
  if (kinds.length === 0) throw new NotEnoughDataError('no failure events: no machines in the store yet, nothing to learn from');
  if (asked !== undefined) {
    const k = kinds.find((g) => g.kind === asked);
    if (!k) throw new NotEnoughDataError(`no machine of kind ${asked} in the store (kinds: ${kinds.map((g) => g.kind).join(', ')})`);
    return k;
  }
  const failures = new Map(kinds.map((g) => [g.kind, 0]));
  const kindOfMachine = new Map(kinds.flatMap((g) => g.machines.map((m) => [m, g.kind] as const)));
  for (const m of failedMachines) {
    const k = kindOfMachine.get(m);
    if (k !== undefined) failures.set(k, failures.get(k)! + 1);
  }
  const rank = (g: KindGroup) => (failures.get(g.kind)! > 0 ? 0 : 2) + (registry.championVersion(g.kind) === null ? 0 : 1);
  return [...kinds].sort((a, b) => rank(a) - rank(b) || failures.get(b.kind)! - failures.get(a.kind)! || (a.kind < b.kind ? -1 : 1))[0]!;
}

/**
 * A kind's first model, transferred from another kind's champion: promoted on fewer validation
 * failures than a model from scratch, but only when it beats its source unchanged on them (PR-AUC no
 * lower, RUL RMSE no higher, one strictly better), so it is measured, and better than what it came from.
 */
export function decideTransfer(
  challenger: Validation,
  source: (Validation & { version: string }) | null,
  o: { minValidationFailures: number; kind: string },
): { promoted: boolean; reason: string } {
  const failures = challenger.lead.detected + challenger.lead.missed;
  if (failures < o.minValidationFailures)
    return {
      promoted: false,
      reason: `transferred model: validation holds ${failures} failure${failures === 1 ? '' : 's'}, fewer than learning.transfer.minValidationFailures (${o.minValidationFailures})`,
    };
  if (!source) return { promoted: false, reason: 'transferred model: its source could not be scored on the same data' };
  const c = challenger.classification.prAuc;
  const k = source.classification.prAuc;
  const cr = challenger.rul.rmse;
  const kr = source.rul.rmse;
  const fmt = `PR-AUC ${c.toFixed(3)} vs ${k.toFixed(3)}, RUL RMSE ${cr.toFixed(2)} vs ${kr.toFixed(2)} for ${source.version} unchanged`;
  if (c >= k && cr <= kr && (c > k || cr < kr))
    return {
      promoted: true,
      reason: `first model of ${o.kind}, transferred from ${source.version}: validated on ${failures} failure${failures === 1 ? '' : 's'}; ${fmt}`,
    };
  return { promoted: false, reason: `transferred model does not beat its source: ${fmt}` };
}

/**
 * Champion/challenger on the same held-out data: the challenger wins when its failure head ranks
 * at least as well (PR-AUC) and its RUL error is no worse (RMSE), and one of them is strictly better.
 */
export function decide(
  challenger: Validation,
  champion: (Validation & { version: string }) | null,
  o: { minValidationFailures: number; kind?: string } = { minValidationFailures: 1 },
): { promoted: boolean; reason: string } {
  // Failures the held-out machines hold (each counted once, however many windows lead up to it).
  const failures = challenger.lead.detected + challenger.lead.missed;
  if (failures < o.minValidationFailures)
    return {
      promoted: false,
      reason: `validation holds ${failures} failure${failures === 1 ? '' : 's'}, fewer than learning.minValidationFailures (${o.minValidationFailures}): its metrics would be unmeasured`,
    };
  if (!champion)
    return {
      promoted: true,
      reason: `first model${o.kind ? ` of ${o.kind}` : ''}: no champion yet; validated on ${failures} failures`,
    };
  const c = challenger.classification.prAuc;
  const k = champion.classification.prAuc;
  const cr = challenger.rul.rmse;
  const kr = champion.rul.rmse;
  const fmt = `PR-AUC ${c.toFixed(3)} vs ${k.toFixed(3)}, RUL RMSE ${cr.toFixed(2)} vs ${kr.toFixed(2)} (champion ${champion.version})`;
  if (c >= k && cr <= kr && (c > k || cr < kr)) return { promoted: true, reason: `beats the champion: ${fmt}` };
  return { promoted: false, reason: `does not beat the champion: ${fmt}` };
}
