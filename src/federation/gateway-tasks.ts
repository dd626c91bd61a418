/**
 * The daemon's federated work on its own store, run in the federation worker (never on the event
 * loop): statistics, a local round, and the final model offered to the registry, where the usual
 * champion/challenger rule on this gateway's held-out machines decides.
 */
import type { LearningConfig } from '../config/schema.js';
import { KindResolver } from '../core/kinds.js';
import { groupByKind } from '../features/kinds.js';
import { loadTf, quietTfWarnings } from '../model/backend.js';
import { loadFastLstm } from '../model/fast-lstm/load.js';
import { buildLstm, compile } from '../model/lstm.js';
import { ModelRegistry, type ModelMeta } from '../registry/registry.js';
import { createSensorStore } from '../store/create.js';
import { loadDataset, type Dataset } from '../training/dataset.js';
import { decide } from '../training/run.js';
import { dataReport, scoreOnHeldOut, validationMetrics } from '../training/meta-parts.js';
import { trainAndValidate, validate, type Validation } from '../training/pipeline.js';
import type { TrainingConfig } from '../training/worker-input.js';
import { flatWeights, globalModel, localMoments, planSpec, prepareLocal, trainRound, type LocalData } from './local.js';
import type { Plan } from './messages.js';
import type { Adoption } from './participant.js';

export interface GatewayTask {
  /** init: the coordinator's first global model (no store); the others work on this gateway's data. */
  task: 'init' | 'stats' | 'train' | 'adopt';
  config: TrainingConfig;
  client: string;
  plan: Plan;
  global: Float32Array | null;
  now: number;
  personalise: { enabled: boolean; epochs: number };
  wattsPerCore: number;
}

/** The plan's grid and labels over the local config: the federation's model decides how data is windowed. */
function planLearning(cfg: LearningConfig, plan: Plan): LearningConfig {
  return { ...cfg, step: plan.shape.stepMs, window: plan.shape.window, horizon: plan.shape.horizon, rulCap: plan.shape.rulCap };
}

async function localData(t: GatewayTask): Promise<(LocalData & { dataset: Dataset }) | null> {
  const cfg = planLearning(t.config.learning, t.plan);
  const store = createSensorStore(t.config);
  await store.open();
  try {
    const kinds = groupByKind(await store.listMachines(), new KindResolver(t.config.machines));
    const kind = kinds.find((k) => k.kind === t.plan.kind);
    if (!kind) return null;
    const dataset = await loadDataset(store, cfg, t.now, kind);
    if (dataset.items.length === 0) return null;
    // From the statistics round on, the plan names the inputs; before it, the kind's own sensors.
    const sensors = t.plan.sensors.length > 0 ? t.plan.sensors : dataset.sensors;
    return { items: dataset.items, sensors, machines: dataset.machines, failures: dataset.failures, dataset };
  } finally {
    await store.close();
  }
}

export async function runGatewayTask(t: GatewayTask): Promise<unknown> {
  if (t.task === 'init') return initialModel(t);
  const data = await localData(t);
  if (t.task === 'stats') return data ? { ...localMoments(data, t.plan), machines: data.machines, failures: data.failures } : null;
  if (!data)
    return t.task === 'train' ? null : ({ version: null, promoted: false, reason: 'no machines of this kind here' } satisfies Adoption);
  quietTfWarnings();
  const cfg = t.config.learning;
  const { tf, backend, provider } = await loadTf(cfg.backend);
  const lstm = await loadFastLstm(tf, { preference: cfg.lstmKernel, ...(cfg.kernelThreads > 0 ? { threads: cfg.kernelThreads } : {}) });
  const prepared = prepareLocal(data, t.plan);
  if (t.task === 'train') {
    if (prepared.report.trainWindows === 0) return null;
    const cpu = process.cpuUsage();
    const u = await trainRound(tf, prepared, t.plan, t.global!, { kernel: lstm.kernel, client: t.client });
    const used = process.cpuUsage(cpu);
    // The estimate the energy accountant uses without a meter: CPU time × watts per core.
    return u ? { ...u, energyJ: ((used.user + used.system) / 1e6) * t.wattsPerCore } : null;
  }

  const registry = new ModelRegistry(cfg.modelsDir);
  const already = registry
    .list(t.plan.kind)
    .find((m) => m.federation?.session === t.plan.session && m.federation.round === t.plan.round && m.federation.id === t.plan.federation);
  if (already) return { version: already.version, promoted: false, reason: `already offered as ${already.version}` } satisfies Adoption;
  if (prepared.validation.n === 0)
    return { version: null, promoted: false, reason: 'no held-out windows here to judge it on' } satisfies Adoption;
  const started = Date.now();
  let model = globalModel(tf, t.plan, t.global!, lstm.kernel);
  let epochs = 0;
  let validation: Validation;
  if (t.personalise.enabled && prepared.report.trainPositives > 0) {
    // Personalised: the federated model fine-tuned on this gateway's own training machines.
    compile(tf, model, t.plan.params.learningRate);
    const tuned = await trainAndValidate(
      tf,
      prepared,
      {
        units: t.plan.shape.units,
        dropout: t.plan.shape.dropout,
        learningRate: t.plan.params.learningRate,
        seed: t.plan.params.seed,
        recurrentActivation: 'sigmoid',
        kernel: lstm.kernel,
      },
      {
        epochs: t.personalise.epochs,
        batchSize: t.plan.params.batchSize,
        patience: Math.max(2, Math.ceil(t.personalise.epochs / 3)),
        monitor: cfg.model.monitor,
        rulCap: t.plan.shape.rulCap,
        horizon: t.plan.shape.horizon,
        stepMs: t.plan.shape.stepMs,
      },
      [model],
    );
    model = tuned.model;
    epochs = tuned.fit.history.length;
    validation = tuned.validation;
  } else {
    validation = validate(tf, model, prepared.validation, {
      rulCap: t.plan.shape.rulCap,
      horizon: t.plan.shape.horizon,
      stepMs: t.plan.shape.stepMs,
    });
  }
  const championVersion = registry.championVersion(t.plan.kind);
  const champion = championVersion ? registry.meta(championVersion) : null;
  // The champion on the same held-out machines (on the plan's grid when it is the champion's own).
  const championOnSame = champion
    ? await scoreOnHeldOut(
        tf,
        registry,
        champion,
        prepared.split.validation,
        champion.stepMs === t.plan.shape.stepMs ? t.plan.shape.stride : 1,
      )
    : null;
  const decision = decide(validation, championOnSame, { minValidationFailures: cfg.minValidationFailures, kind: t.plan.kind });
  const reason = `federated model (${t.plan.federation}, round ${t.plan.round}, ${t.plan.clients.length} gateways): ${decision.reason}`;
  const version = registry.nextVersion();
  const norm = t.plan.normalisation!;
  const meta: ModelMeta = {
    version,
    kind: t.plan.kind,
    createdAt: new Date().toISOString(),
    parent: championVersion,
    warmStartedFrom: null,
    transferredFrom: null,
    federation: {
      id: t.plan.federation,
      session: t.plan.session,
      round: t.plan.round,
      clients: t.plan.clients,
      personalised: t.personalise.enabled && epochs > 0,
    },
    decision: { promoted: decision.promoted, reason },
    dataRange: { from: data.dataset.from, to: data.dataset.to },
    machines: {
      train: prepared.report.trainMachines,
      validation: prepared.report.validationMachines,
      splitMethod: prepared.report.splitMethod,
    },
    sensors: norm.sensors,
    dropped: norm.dropped,
    stepMs: t.plan.shape.stepMs,
    window: t.plan.shape.window,
    horizon: t.plan.shape.horizon,
    rulCap: t.plan.shape.rulCap,
    normalisation: norm,
    architecture: {
      units: t.plan.shape.units,
      dropout: t.plan.shape.dropout,
      recurrentActivation: 'sigmoid',
      learningRate: t.plan.params.learningRate,
      batchSize: t.plan.params.batchSize,
      members: 1,
    },
    threshold: validation.threshold,
    metrics: validationMetrics(validation, championOnSame),
    training: {
      backend,
      provider,
      durationMs: Date.now() - started,
      epochs: t.plan.round * t.plan.params.epochs + epochs,
      bestEpoch: t.plan.round * t.plan.params.epochs,
      samplesPerSecond: 0,
      lstmKernel: lstm.describe,
      seed: t.plan.params.seed,
      stoppedEarly: false,
    },
    ...dataReport(prepared, data.dataset, validation),
  };
  await registry.save(tf, model, meta);
  if (decision.promoted) registry.promote(version, reason);
  registry.enforceRetention(cfg.retain);
  model.dispose();
  return { version, promoted: decision.promoted, reason } satisfies Adoption;
}

/** A freshly initialised model of the plan's shape (seeded: every coordinator of a plan starts alike). */
async function initialModel(t: GatewayTask): Promise<{ layout: unknown; values: Float32Array }> {
  quietTfWarnings();
  const { tf } = await loadTf(t.config.learning.backend);
  // The stock layer holds the same weights as the fused kernels' layer, in the same order.
  const model = buildLstm(tf, planSpec(t.plan, 'stock'));
  const w = flatWeights(model);
  model.dispose();
  return w;
}
