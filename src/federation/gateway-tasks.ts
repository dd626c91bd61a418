/**
 * The daemon's federated work on its own store, run in the federation worker (never on the event
 * loop): statistics, a local round, and the final model offered to the registry, where the usual
 * champion/challenger rule on this gateway's held-out machines decides.
 */
import {
  type LearningConfig,
  assembleRun,
  championOnSame,
  dataReport,
  decide,
  learningFor,
  loadRunBackend,
  readKindData,
  trainAndValidate,
  validate,
  validationMetrics,
  type Dataset,
  type Fitted,
  type PreparedData,
  type RunSteps,
  type TrainingConfig,
  type Validation,
} from '../training/index.js';
import { loadTf, quietTfWarnings, buildLstm, compile } from '../model/index.js';
import { ModelRegistry } from '../registry/index.js';
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

/** The kind's recipe on this gateway (its sensors, conditions, model settings), on the plan's grid. */
const kindLearning = (t: GatewayTask): LearningConfig => planLearning(learningFor(t.config, t.plan.kind), t.plan);

async function localData(t: GatewayTask): Promise<LocalDataset | null> {
  const found = await readKindData(
    t.config,
    () => kindLearning(t),
    t.now,
    (kinds) => kinds.find((k) => k.kind === t.plan.kind) ?? null,
  );
  if (!found || found.dataset.items.length === 0) return null;
  const { dataset } = found;
  // From the statistics round on, the plan names the inputs; before it, the kind's own sensors.
  const sensors = t.plan.sensors.length > 0 ? t.plan.sensors : dataset.sensors;
  return { items: dataset.items, sensors, machines: dataset.machines, failures: dataset.failures, dataset };
}

export async function runGatewayTask(t: GatewayTask): Promise<unknown> {
  if (t.task === 'init') return initialModel(t);
  if (t.task === 'stats') {
    const data = await localData(t);
    return data ? { ...localMoments(data, t.plan), machines: data.machines, failures: data.failures } : null;
  }
  if (t.task === 'train') return trainLocally(t);
  return adopt(t);
}

/** One round of local training from the global weights: the update to send. */
async function trainLocally(t: GatewayTask): Promise<unknown> {
  const data = await localData(t);
  if (!data) return null;
  const { tf, lstm } = await loadRunBackend(t.config.learning);
  const prepared = prepareLocal(data, t.plan);
  if (prepared.report.trainWindows === 0) return null;
  const cpu = process.cpuUsage();
  const u = await trainRound(tf, prepared, t.plan, t.global!, { kernel: lstm.kernel, client: t.client });
  const used = process.cpuUsage(cpu);
  // The estimate the energy accountant uses without a meter: CPU time × watts per core.
  return u ? { ...u, energyJ: ((used.user + used.system) / 1e6) * t.wattsPerCore } : null;
}

/** Nothing to judge the federated model on here, or it was offered already: said without a run. */
class NoAdoption extends Error {}

/**
 * The final model offered to this gateway's registry as a training run is: the federated weights
 * (fine-tuned on this gateway's machines when personalised) against the champion on the same
 * held-out machines, registered, and promoted only if it is better.
 */
async function adopt(t: GatewayTask): Promise<Adoption> {
  const cfg = t.config.learning;
  const registry = new ModelRegistry(cfg.modelsDir);
  const already = registry
    .list(t.plan.kind, 'failure')
    .find(
      (m) =>
        m.role !== 'health' &&
        m.federation?.session === t.plan.session &&
        m.federation.round === t.plan.round &&
        m.federation.id === t.plan.federation,
    );
  if (already) return { version: already.version, promoted: false, reason: `already offered as ${already.version}` };
  try {
    const result = await assembleRun({ config: t.config, now: t.now }, federatedSteps(t));
    const meta = result.meta!;
    return { version: meta.version, promoted: meta.decision.promoted, reason: meta.decision.reason };
  } catch (err) {
    if (err instanceof NoAdoption) return { version: null, promoted: false, reason: err.message };
    throw err;
  }
}

type LocalDataset = LocalData & { dataset: Dataset };

function federatedSteps(t: GatewayTask): RunSteps<LocalDataset, PreparedData, Fitted & { validation: Validation; epochs: number }> {
  return {
    async read() {
      const data = await localData(t);
      if (!data) throw new NoAdoption('no machines of this kind here');
      return data;
    },
    async prepare(_ctx, data) {
      const prepared = prepareLocal(data, t.plan);
      if (prepared.validation.n === 0) throw new NoAdoption('no held-out windows here to judge it on');
      return prepared;
    },
    async fit(ctx, _data, prepared) {
      const model = globalModel(ctx.tf, t.plan, t.global!, ctx.lstm.kernel);
      if (!(t.personalise.enabled && prepared.report.trainPositives > 0)) {
        const validation = validate(ctx.tf, model, prepared.validation, {
          rulCap: t.plan.shape.rulCap,
          horizon: t.plan.shape.horizon,
          stepMs: t.plan.shape.stepMs,
        });
        return { model, validation, epochs: 0 };
      }
      // Personalised: the federated model fine-tuned on this gateway's own training machines.
      const rulLateWeight = t.plan.params.rulLateWeight ?? 1;
      compile(ctx.tf, model, t.plan.params.learningRate, 1, rulLateWeight);
      const tuned = await trainAndValidate(
        ctx.tf,
        prepared,
        {
          units: t.plan.shape.units,
          dropout: t.plan.shape.dropout,
          learningRate: t.plan.params.learningRate,
          rulLateWeight,
          seed: t.plan.params.seed,
          recurrentActivation: 'sigmoid',
          kernel: ctx.lstm.kernel,
        },
        {
          epochs: t.personalise.epochs,
          batchSize: t.plan.params.batchSize,
          patience: Math.max(2, Math.ceil(t.personalise.epochs / 3)),
          monitor: ctx.config.learning.model.monitor,
          rulCap: t.plan.shape.rulCap,
          horizon: t.plan.shape.horizon,
          stepMs: t.plan.shape.stepMs,
        },
        [model],
      );
      return { model: tuned.model, validation: tuned.validation, epochs: tuned.fit.history.length };
    },
    async decide(ctx, data, prepared, fitted) {
      const cfg = ctx.config.learning;
      const championVersion = ctx.registry.championVersion(t.plan.kind);
      const champion = championVersion ? ctx.registry.failureMeta(championVersion) : null;
      // The champion on the same held-out machines (on the plan's grid when it is the champion's own).
      const onSame = champion
        ? await championOnSame(
            ctx.tf,
            ctx.registry,
            champion,
            prepared.split.validation,
            champion.stepMs === t.plan.shape.stepMs ? t.plan.shape.stride : 1,
          )
        : null;
      const decision = decide(fitted.validation, onSame, { minValidationFailures: cfg.minValidationFailures, kind: t.plan.kind });
      const reason = `federated model (${t.plan.federation}, round ${t.plan.round}, ${t.plan.clients.length} gateways): ${decision.reason}`;
      const norm = t.plan.normalisation!;
      return {
        version: ctx.registry.nextVersion(),
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
          personalised: t.personalise.enabled && fitted.epochs > 0,
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
          // What the model's heads read, so a warm start or a transfer judges its shape right (meta.ts poolingOf).
          pooling: t.plan.shape.pooling ?? 'last',
          ...(t.plan.shape.pooling === 'attention' && t.plan.shape.attentionUnits ? { attentionUnits: t.plan.shape.attentionUnits } : {}),
          dropout: t.plan.shape.dropout,
          recurrentActivation: 'sigmoid',
          learningRate: t.plan.params.learningRate,
          batchSize: t.plan.params.batchSize,
          members: 1,
          ...((t.plan.params.rulLateWeight ?? 1) !== 1 ? { rulLateWeight: t.plan.params.rulLateWeight } : {}),
        },
        threshold: fitted.validation.threshold,
        metrics: validationMetrics(fitted.validation, onSame),
        training: {
          backend: ctx.backend,
          provider: ctx.provider,
          durationMs: Date.now() - ctx.startedAt,
          epochs: t.plan.round * t.plan.params.epochs + fitted.epochs,
          bestEpoch: t.plan.round * t.plan.params.epochs,
          samplesPerSecond: 0,
          lstmKernel: ctx.lstm.describe,
          seed: t.plan.params.seed,
          stoppedEarly: false,
        },
        ...dataReport(prepared, data.dataset, fitted.validation),
      };
    },
  };
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
