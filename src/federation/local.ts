/**
 * What a gateway does with its own data in a federation, the same in the daemon's worker and in the
 * benchmark: its statistics, one round of local training from the global weights, and the update.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import { inputNames, splitByMachineAndTime, type LabelledSegment } from '../features/index.js';
import { type TF, buildLstm, type LstmSpec } from '../model/index.js';
import { fitModel, prepareData, validate, type PreparedData } from '../training/index.js';
import { l2 } from './aggregate.js';
import type { Plan, WeightLayout } from './messages.js';
import { addGaussianNoise, clipUpdate } from './privacy.js';
import { segmentMoments, type GatewayMoments } from './stats.js';

export interface LocalData {
  items: LabelledSegment[];
  sensors: string[];
  machines: number;
  failures: number;
}

/** Moments of the training split only (the split every round uses), so validation stays unseen. */
export function localMoments(data: LocalData, plan: Pick<Plan, 'shape' | 'params'>): GatewayMoments {
  const rng = new Rng(plan.params.seed ^ 0x5eed);
  const split = splitByMachineAndTime(data.items, plan.shape.validationFraction, plan.shape.window, () => rng.next());
  const segments = split.train.map((i) => i.seg);
  const raw = segmentMoments(segments, data.sensors);
  const alpha = plan.shape.smoothing ?? 1;
  if (alpha >= 1) return raw;
  const { sensors: _, ...smoothed } = segmentMoments(segments, data.sensors, alpha);
  return { ...raw, smoothed };
}

/** The local split and windows under the plan's global normalisation. */
export function prepareLocal(data: LocalData, plan: Plan): PreparedData {
  if (!plan.normalisation) throw new Error('a training round needs the global normalisation');
  return prepareData(data.items, plan.sensors, {
    windowSteps: plan.shape.window,
    stride: plan.shape.stride,
    validationFraction: plan.shape.validationFraction,
    positiveShare: plan.shape.positiveShare,
    seed: plan.params.seed,
    normalisation: plan.normalisation,
  });
}

export function planSpec(plan: Plan, kernel: LstmSpec['kernel'], seed = plan.params.seed): LstmSpec {
  return {
    windowSteps: plan.shape.window,
    features: plan.normalisation ? inputNames(plan.normalisation).length : 0,
    units: plan.shape.units,
    pooling: plan.shape.pooling ?? 'last',
    attentionUnits: plan.shape.attentionUnits,
    dropout: plan.shape.dropout,
    learningRate: plan.params.learningRate,
    rulLateWeight: plan.params.rulLateWeight ?? 1,
    seed,
    recurrentActivation: 'sigmoid',
    kernel,
  };
}

/** The model's weights end to end (in `model.weights` order) and their layout. */
export function flatWeights(model: LayersModel): { layout: WeightLayout; values: Float32Array } {
  const layout = model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
  const tensors = model.getWeights();
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const values = new Float32Array(total);
  let at = 0;
  for (const t of tensors) {
    values.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  return { layout, values };
}

/** Sets weights from a flat vector; the layout must be the model's own. */
export function setFlatWeights(tf: TF, model: LayersModel, values: Float32Array, layout?: WeightLayout): void {
  const own = model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
  if (layout && JSON.stringify(layout.map((l) => l.shape)) !== JSON.stringify(own.map((l) => l.shape)))
    throw new Error('the global weights do not have this model shape');
  const total = own.reduce((n, l) => n + l.shape.reduce((a, b) => a * b, 1), 0);
  if (total !== values.length) throw new Error(`the model has ${total} weights, the message ${values.length}`);
  let at = 0;
  const tensors = own.map((l) => {
    const size = l.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(values.subarray(at, at + size), l.shape);
    at += size;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** The global model of a plan: its architecture with the weights in `values`. */
export function globalModel(tf: TF, plan: Plan, values: Float32Array, kernel: LstmSpec['kernel']): LayersModel {
  const model = buildLstm(tf, planSpec(plan, kernel));
  setFlatWeights(tf, model, values, plan.layout);
  return model;
}

export interface LocalUpdate {
  delta: Float32Array;
  samples: number;
  norm: number;
  clipped: boolean;
  noised: boolean;
  metrics: { trainLoss: number; validationRmse: number | null; validationPrAuc: number | null; trainMs: number };
}

/**
 * One round: `epochs` epochs on the local training windows from the global weights. With FedProx
 * (μ > 0) every step is followed by the proximal step of (μ/2)‖w − w_global‖², which keeps a gateway
 * with unusual data from drifting off (Li et al. 2020). Returns the change, clipped and noised when
 * the plan asks for privacy.
 */
export async function trainRound(
  tf: TF,
  data: PreparedData,
  plan: Plan,
  global: Float32Array,
  o: { kernel: LstmSpec['kernel']; client: string; shouldStop?: () => boolean },
): Promise<LocalUpdate | null> {
  const t0 = performance.now();
  const clientSeed = plan.params.seed + plan.round * 7919 + hash(o.client);
  const model = buildLstm(tf, planSpec(plan, o.kernel, clientSeed));
  try {
    setFlatWeights(tf, model, global, plan.layout);
    const anchors = plan.params.mu > 0 ? model.trainableWeights.map((w) => w.read().clone()) : [];
    const pull = plan.params.learningRate * plan.params.mu;
    const empty = { ...data.validation, n: 0 };
    const fit = await fitModel(tf, model, data.train, empty, {
      epochs: plan.params.epochs,
      batchSize: plan.params.batchSize,
      patience: plan.params.epochs + 1,
      seed: clientSeed,
      rulCap: plan.shape.rulCap,
      ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
      onBatch:
        anchors.length > 0
          ? () =>
              tf.tidy(() =>
                model.trainableWeights.forEach((w, i) => w.write(tf.div(tf.add(w.read(), tf.mul(anchors[i]!, pull)), 1 + pull))),
              )
          : undefined,
    });
    tf.dispose(anchors);
    if (fit.cancelled) return null;
    const v =
      data.validation.n > 0
        ? validate(tf, model, data.validation, { rulCap: plan.shape.rulCap, horizon: plan.shape.horizon, stepMs: plan.shape.stepMs })
        : null;
    const local = flatWeights(model).values;
    const delta = new Float32Array(local.length);
    for (let i = 0; i < delta.length; i++) delta[i] = local[i]! - global[i]!;
    let norm = l2(delta);
    let clipped = false;
    let noised = false;
    const privacy = plan.params.privacy;
    if (privacy) {
      // What leaves the gateway says nothing of the update before clipping: its norm after, and that it was clipped to C.
      norm = Math.min(clipUpdate(delta, privacy.clipNorm), privacy.clipNorm);
      clipped = true;
      addGaussianNoise(delta, privacy.clipNorm, privacy.noiseMultiplier);
      noised = privacy.noiseMultiplier > 0;
    }
    return {
      delta,
      samples: data.report.trainWindows,
      norm,
      clipped,
      noised,
      metrics: {
        trainLoss: fit.history.at(-1)?.loss ?? NaN,
        validationRmse: v ? v.rul.rmse : null,
        validationPrAuc: v ? v.classification.prAuc : null,
        trainMs: performance.now() - t0,
      },
    };
  } finally {
    model.dispose();
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) % 100_000;
}
