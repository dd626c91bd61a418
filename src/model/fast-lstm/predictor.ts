/**
 * Scoring without tfjs per call: the model's LSTM stack through the kernels' inference forward (the
 * same arithmetic as training's, without keeping what backward needs), each layer reading the
 * previous one's output where it lies in kernel memory, then the dense heads in plain code. A single
 * window takes well under a millisecond, less than tfjs's per-op overhead alone. Works for models
 * trained with either LSTM layer (they have the same weights), and for ensembles (several stacks on
 * the same input, their heads averaged); an architecture it does not know gives null, and the caller
 * keeps model.predict.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { FAST_LSTM_CLASS, unsupportedLstmOption } from './layer.js';
import { TEMPORAL_ATTENTION_CLASS } from '../attention.js';
import type { KernelRuntime } from './kernel-runtime.js';
import { batchParts } from './workspace.js';

interface Head {
  name: string;
  units: number;
  activation: 'sigmoid' | 'linear';
  kernel: Float32Array; // [in, units]
  bias: Float32Array;
}

interface Layer {
  units: number;
  inputs: number;
  hard: boolean;
  /** Kernel memory offsets of the weights (loaded once) and of the per-batch buffers. */
  w: number;
  r: number;
  bias: number;
  gates: number;
  c: number;
  h: number;
}

/** Temporal attention pooling's weights (model/attention.ts): W [U, A], b [A], v [A]. */
interface Attention {
  units: number;
  w: Float32Array;
  b: Float32Array;
  v: Float32Array;
}

/** An LSTM stack from the input and the dense heads reading its last state, or its attention pooling. */
interface Chain {
  layers: Layer[];
  heads: Head[];
  attention: Attention | null;
}

/** Where each model output comes from: one head, or the average of several (an ensemble). */
type OutputSource = Array<{ chain: number; head: number }>;

const CHUNK = 512;

type TfLayer = LayersModel['layers'][number];

/** The one layer feeding `layer`, or null when it has several inputs or several calls. */
function inboundOf(layer: TfLayer): TfLayer | null {
  const nodes = layer.inboundNodes;
  return nodes.length === 1 && nodes[0]!.inboundLayers.length === 1 ? nodes[0]!.inboundLayers[0]! : null;
}

export class FastPredictor {
  private capacityRows = 0;
  private capacityBatch = 0;
  private x = 0;
  private steps = 0;
  private readonly layers: Layer[];

  private constructor(
    private readonly rt: KernelRuntime,
    private readonly chains: Chain[],
    private readonly outputs: OutputSource[],
    readonly features: number,
  ) {
    this.layers = chains.flatMap((c) => c.layers);
  }

  static fromModel(model: LayersModel, runtime: KernelRuntime): FastPredictor | null {
    if (model.inputs.length !== 1) return null;
    const features = model.inputs[0]!.shape[model.inputs[0]!.shape.length - 1] ?? 0;
    if (features <= 0) return null;
    const chains: Chain[] = [];
    let built: FastPredictor | null = null;
    try {
      const outputs = readOutputs(model, runtime, features, chains);
      if (outputs) built = new FastPredictor(runtime, chains, outputs, features);
      return built;
    } finally {
      // Weights already copied for an architecture found unfit later go back to the allocator.
      if (!built)
        freeWeights(
          runtime,
          chains.flatMap((c) => c.layers),
        );
    }
  }

  /** Windows [n, steps, F] → one Float32Array per model output (p(failure) and RUL/cap for Vigil's model). */
  predict(x: Float32Array, n: number, steps: number): Float32Array[] {
    const result = this.outputs.map((o) => new Float32Array(n * this.head(o[0]!).units));
    const F = this.features;
    for (let start = 0; start < n; start += CHUNK) {
      const count = Math.min(CHUNK, n - start);
      this.prepare(count, steps);
      this.rt.f32.set(x.subarray(start * steps * F, (start + count) * steps * F), this.x / 4);
      const parts = batchParts(this.rt, count);
      for (const chain of this.chains) {
        let input = this.x;
        for (const l of chain.layers) {
          const at = input;
          this.rt.parallel(
            'infer',
            parts.map(([b0, rows]) => [
              rows,
              steps,
              l.inputs,
              l.units,
              at + b0 * steps * l.inputs * 4,
              l.w,
              l.r,
              l.bias,
              l.gates + b0 * steps * 16 * l.units,
              l.c + b0 * l.units * 4,
              l.h + b0 * steps * l.units * 4,
              l.hard ? 1 : 0,
            ]),
          );
          input = l.h;
        }
      }
      // What each chain's heads read, a row per window: its last state, or [attention context, last state].
      const features = this.chains.map((c) => readout(this.rt.f32, c, count, steps));
      this.outputs.forEach((sources, k) => {
        const out = result[k]!;
        const share = 1 / sources.length;
        for (const source of sources) {
          const head = this.head(source);
          const { data: h, width: U, first, stride } = features[source.chain]!;
          for (let b = 0; b < count; b++) {
            const row = first + b * stride;
            for (let j = 0; j < head.units; j++) {
              let s = head.bias[j]!;
              for (let i = 0; i < U; i++) s += h[row + i]! * head.kernel[i * head.units + j]!;
              const value = head.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
              const at = (start + b) * head.units + j;
              out[at] = out[at]! + (sources.length === 1 ? value : value * share);
            }
          }
        }
      });
    }
    return result;
  }

  private head(source: { chain: number; head: number }): Head {
    return this.chains[source.chain]!.heads[source.head]!;
  }

  dispose(): void {
    this.releaseBuffers();
    freeWeights(this.rt, this.layers);
  }

  private prepare(batch: number, steps: number): void {
    const rows = batch * steps;
    if (this.capacityRows >= rows && this.capacityBatch >= batch && this.steps === steps) return;
    this.releaseBuffers();
    this.capacityRows = rows;
    this.capacityBatch = batch;
    this.steps = steps;
    this.x = this.rt.alloc(rows * this.features);
    for (const l of this.layers) {
      l.gates = this.rt.alloc(rows * 4 * l.units);
      l.c = this.rt.alloc(batch * l.units);
      l.h = this.rt.alloc(rows * l.units);
    }
  }

  private releaseBuffers(): void {
    if (this.capacityRows === 0) return;
    this.rt.free(this.x, this.capacityRows * this.features);
    for (const l of this.layers) {
      this.rt.free(l.gates, this.capacityRows * 4 * l.units);
      this.rt.free(l.c, this.capacityBatch * l.units);
      this.rt.free(l.h, this.capacityRows * l.units);
    }
    this.capacityRows = 0;
    this.capacityBatch = 0;
  }
}

function readHead(layer: TfLayer): Head | null {
  if (layer.getClassName() !== 'Dense') return null;
  const cfg = layer.getConfig() as Record<string, unknown>;
  const activation = cfg.activation;
  if ((activation !== 'sigmoid' && activation !== 'linear') || cfg.useBias === false) return null;
  const [kernel, bias] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  return { name: layer.name, units: Number(cfg.units), activation, kernel: kernel!, bias: bias! };
}

/**
 * The stack's weights copied into kernel memory, or null when the kernels cannot run it: every LSTM
 * but the last passes its sequence on, the heads read the last state.
 */
function loadStack(lstms: readonly TfLayer[], features: number, runtime: KernelRuntime, pooled: boolean): Layer[] | null {
  const configs = lstms.map((l) => l.getConfig() as Record<string, unknown>);
  // Attention pooling reads every state of the last layer: it passes its sequence on too.
  if (configs.some((cfg, i) => unsupportedLstmOption(cfg) !== null || Boolean(cfg.returnSequences) !== (pooled || i < configs.length - 1)))
    return null;
  let inputs = features;
  return lstms.map((l, i) => {
    const cfg = configs[i]!;
    const [w, r, bias] = l.getWeights().map((t) => t.dataSync() as Float32Array);
    const load = (data: Float32Array) => {
      const at = runtime.alloc(data.length);
      runtime.f32.set(data, at / 4);
      return at;
    };
    const layer: Layer = {
      units: Number(cfg.units),
      inputs,
      hard: cfg.recurrentActivation !== 'sigmoid',
      w: load(w!),
      r: load(r!),
      bias: load(bias!),
      gates: 0,
      c: 0,
      h: 0,
    };
    inputs = layer.units;
    return layer;
  });
}

function freeWeights(rt: KernelRuntime, layers: readonly Layer[]): void {
  for (const l of layers) {
    rt.free(l.w, l.inputs * 4 * l.units);
    rt.free(l.r, l.units * 4 * l.units);
    rt.free(l.bias, 4 * l.units);
  }
}

/** Each output's heads and their LSTM chains (loaded into `chains`), or null for an unknown architecture. */
function readOutputs(model: LayersModel, runtime: KernelRuntime, features: number, chains: Chain[]): OutputSource[] | null {
  const chainOf = new Map<string, number>();
  const outputs: OutputSource[] = [];
  for (const out of model.outputs) {
    const source = out.sourceLayer as TfLayer;
    const heads =
      source.getClassName() === 'Average' ? (source.inboundNodes.length === 1 ? source.inboundNodes[0]!.inboundLayers : []) : [source];
    if (heads.length === 0) return null;
    const sources: OutputSource = [];
    for (const layer of heads) {
      const head = readHead(layer);
      if (!head) return null;
      // Back from the head to the input: dropout is the identity when scoring; attention pooling may
      // sit between the heads and the stack.
      const lstms: TfLayer[] = [];
      let pooling: TfLayer | null = null;
      let at = inboundOf(layer);
      while (at && at.getClassName() !== 'InputLayer') {
        const cls = at.getClassName();
        if (cls === 'LSTM' || cls === FAST_LSTM_CLASS) lstms.unshift(at);
        else if (cls === TEMPORAL_ATTENTION_CLASS && lstms.length === 0 && !pooling) pooling = at;
        else if (cls !== 'Dropout') return null;
        at = inboundOf(at);
      }
      if (!at || lstms.length === 0) return null;
      const key = [...lstms.map((l) => l.name), pooling?.name ?? ''].join('|');
      let chain = chainOf.get(key);
      if (chain === undefined) {
        const layers = loadStack(lstms, features, runtime, pooling !== null);
        if (!layers) return null;
        chain = chains.push({ layers, heads: [], attention: pooling ? readAttention(pooling) : null }) - 1;
        chainOf.set(key, chain);
      }
      sources.push({ chain, head: chains[chain]!.heads.push(head) - 1 });
    }
    const units = (s: { chain: number; head: number }) => chains[s.chain]!.heads[s.head]!.units;
    if (sources.some((s) => units(s) !== units(sources[0]!))) return null;
    outputs.push(sources);
  }
  return outputs.length > 0 ? outputs : null;
}

function readAttention(layer: TfLayer): Attention {
  const [w, b, v] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  return { units: b!.length, w: w!, b: b!, v: v! };
}

/**
 * A chain's read-out for `count` windows of `steps`, a row per window: the last LSTM's last state, or
 * with attention pooling [Σ_t α_t·h_t, h_T] with α = softmax_t(vᵀ·tanh(W·h_t + b)), as attention.ts.
 */
function readout(
  f32: Float32Array,
  chain: Chain,
  count: number,
  steps: number,
): { data: Float32Array; width: number; first: number; stride: number } {
  const last = chain.layers.at(-1)!;
  const U = last.units;
  const hAt = last.h / 4;
  const att = chain.attention;
  // The last state is read where the kernels left it: window n's row starts at first + n·stride.
  if (!att) return { data: f32, width: U, first: hAt + (steps - 1) * U, stride: steps * U };
  const width = 2 * U;
  const data = new Float32Array(count * width);
  const e = new Float64Array(steps);
  for (let n = 0; n < count; n++) {
    const base = hAt + n * steps * U;
    const out = n * width;
    const lastRow = base + (steps - 1) * U;
    const A = att.units;
    let max = -Infinity;
    for (let t = 0; t < steps; t++) {
      const row = base + t * U;
      let score = 0;
      for (let a = 0; a < A; a++) {
        let z = att.b[a]!;
        for (let u = 0; u < U; u++) z += f32[row + u]! * att.w[u * A + a]!;
        score += Math.tanh(z) * att.v[a]!;
      }
      e[t] = score;
      if (score > max) max = score;
    }
    let sum = 0;
    for (let t = 0; t < steps; t++) sum += e[t] = Math.exp(e[t]! - max);
    for (let t = 0; t < steps; t++) {
      const alpha = e[t]! / sum;
      const row = base + t * U;
      for (let u = 0; u < U; u++) data[out + u]! += alpha * f32[row + u]!;
    }
    data.set(f32.subarray(lastRow, lastRow + U), out + U);
  }
  return { data, width, first: 0, stride: width };
}
