/**
 * Scoring without tfjs per call: the model's LSTM stack through the kernels' inference forward (the
 * same arithmetic as training's, without keeping what backward needs), each layer reading the
 * previous one's output where it lies in kernel memory, then the dense heads in plain code. A single
 * window takes well under a millisecond, less than tfjs's per-op overhead alone. Works for models
 * trained with either LSTM layer (they have the same weights); an architecture it does not know
 * gives null, and the caller keeps model.predict.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { FAST_LSTM_CLASS, unsupportedLstmOption } from './layer.js';
import type { FastLstmRuntime } from './runtime.js';
import { splitBatch } from './workspace.js';

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

const CHUNK = 512;

export class FastPredictor {
  private capacityRows = 0;
  private capacityBatch = 0;
  private x = 0;
  private steps = 0;

  private constructor(
    private readonly rt: FastLstmRuntime,
    private readonly layers: Layer[],
    private readonly heads: Head[],
    readonly features: number,
  ) {}

  static fromModel(model: LayersModel, runtime: FastLstmRuntime): FastPredictor | null {
    const specs: Array<{ units: number; hard: boolean; weights: Float32Array[] }> = [];
    const heads: Head[] = [];
    const sequences: boolean[] = [];
    let features = 0;
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const cfg = layer.getConfig() as Record<string, unknown>;
      if (cls === 'InputLayer') {
        const shape = (cfg.batchInputShape ?? []) as number[];
        features = shape[shape.length - 1] ?? 0;
      } else if (cls === 'LSTM' || cls === FAST_LSTM_CLASS) {
        if (heads.length > 0 || unsupportedLstmOption(cfg)) return null;
        specs.push({ units: Number(cfg.units), hard: cfg.recurrentActivation !== 'sigmoid', weights: layer.getWeights().map((w) => w.dataSync() as Float32Array) });
        sequences.push(Boolean(cfg.returnSequences));
      } else if (cls === 'Dropout') {
        if (heads.length > 0) return null;
      } else if (cls === 'Dense') {
        const activation = cfg.activation;
        if ((activation !== 'sigmoid' && activation !== 'linear') || cfg.useBias === false) return null;
        const [kernel, bias] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
        heads.push({ name: layer.name, units: Number(cfg.units), activation, kernel: kernel!, bias: bias! });
      } else return null;
    }
    // A chain: every LSTM but the last passes its sequence on; the heads read the last h.
    if (specs.length === 0 || heads.length !== model.outputs.length || features <= 0) return null;
    // Outputs in the model's order, whatever the order of its layers.
    const ordered = model.outputs.map((o) => heads.find((h) => h.name === o.sourceLayer.name));
    if (ordered.some((h) => !h)) return null;
    if (sequences.some((s, i) => s !== (i < sequences.length - 1))) return null;
    let inputs = features;
    const layers = specs.map((s) => {
      const load = (data: Float32Array) => {
        const at = runtime.alloc(data.length);
        runtime.f32.set(data, at / 4);
        return at;
      };
      const layer: Layer = { units: s.units, inputs, hard: s.hard, w: load(s.weights[0]!), r: load(s.weights[1]!), bias: load(s.weights[2]!), gates: 0, c: 0, h: 0 };
      inputs = s.units;
      return layer;
    });
    return new FastPredictor(runtime, layers, ordered as Head[], features);
  }

  /** Windows [n, steps, F] → one Float32Array per head (p(failure) and RUL/cap for Vigil's model). */
  predict(x: Float32Array, n: number, steps: number): Float32Array[] {
    const outputs = this.heads.map((h) => new Float32Array(n * h.units));
    const F = this.features;
    for (let start = 0; start < n; start += CHUNK) {
      const count = Math.min(CHUNK, n - start);
      this.prepare(count, steps);
      this.rt.f32.set(x.subarray(start * steps * F, (start + count) * steps * F), this.x / 4);
      const parts = splitBatch(count, this.rt.threads);
      let input = this.x;
      for (const l of this.layers) {
        const at = input;
        this.rt.parallel(
          'infer',
          parts.map(([b0, rows]) => [rows, steps, l.inputs, l.units, at + b0 * steps * l.inputs * 4, l.w, l.r, l.bias, l.gates + b0 * steps * 16 * l.units, l.c + b0 * l.units * 4, l.h + b0 * steps * l.units * 4, l.hard ? 1 : 0]),
        );
        input = l.h;
      }
      const last = this.layers[this.layers.length - 1]!;
      const U = last.units;
      const h = this.rt.f32;
      const hAt = last.h / 4;
      this.heads.forEach((head, k) => {
        const out = outputs[k]!;
        for (let b = 0; b < count; b++) {
          const row = hAt + (b * steps + steps - 1) * U;
          for (let j = 0; j < head.units; j++) {
            let s = head.bias[j]!;
            for (let i = 0; i < U; i++) s += h[row + i]! * head.kernel[i * head.units + j]!;
            out[(start + b) * head.units + j] = head.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
          }
        }
      });
    }
    return outputs;
  }

  dispose(): void {
    this.releaseBuffers();
    for (const l of this.layers) {
      this.rt.free(l.w, l.inputs * 4 * l.units);
      this.rt.free(l.r, l.units * 4 * l.units);
      this.rt.free(l.bias, 4 * l.units);
    }
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
