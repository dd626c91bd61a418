/**
 * A health model on stretches of raw readings: each window normalised its own model's way,
 * reconstructed in chunks (so a month of windows never sits in memory at once), turned into residual
 * features and anomaly scores. What calibration, the champion's score on the same data and the
 * benchmarks all need.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { applyNormalisation, inputNames, type Normalisation, type Segment } from '../features/index.js';
import { anomalyScores, reconstruct, residualFeatures, type TF } from '../model/index.js';

/** Windows of one raw segment: those ending with the given steps, in time order. */
export interface WindowRefs {
  seg: Segment;
  ends: number[];
}

export interface WindowFeatures {
  /** n × 2S residual features (NaN where a sensor had no value). */
  features: Float32Array;
  n: number;
  machine: string[];
  endTs: Float64Array;
}

const CHUNK = 2048;

/** Normalised windows [n, L, F] ending at `ends` of a segment already normalised, with which sensors had values. */
export function gather(
  normed: Segment,
  raw: Segment,
  ends: readonly number[],
  windowSteps: number,
  sensors: readonly string[],
): { x: Float32Array; known: Uint8Array } {
  const F = normed.sensors.length;
  const S = sensors.length;
  const x = new Float32Array(ends.length * windowSteps * F);
  const known = new Uint8Array(ends.length * S);
  const rawCol = sensors.map((s) => raw.sensors.indexOf(s));
  const Fin = raw.sensors.length;
  ends.forEach((k, w) => {
    x.set(normed.data.subarray((k - windowSteps + 1) * F, (k + 1) * F), w * windowSteps * F);
    for (let s = 0; s < S; s++) {
      const c = rawCol[s]!;
      known[w * S + s] = c >= 0 && !Number.isNaN(raw.data[k * Fin + c]!) ? 1 : 0;
    }
  });
  return { x, known };
}

/** Residual features of every referenced window under a model and its scaling (windows too early for its length are skipped). */
export function windowFeatures(
  tf: TF,
  model: LayersModel,
  norm: Normalisation,
  windowSteps: number,
  refs: readonly WindowRefs[],
): WindowFeatures {
  const S = norm.sensors.length;
  const F = inputNames(norm).length;
  const parts: Float32Array[] = [];
  const machine: string[] = [];
  const endTs: number[] = [];
  for (const r of refs) {
    const ends = r.ends.filter((k) => k >= windowSteps - 1 && k < r.seg.steps);
    if (ends.length === 0) continue;
    const normed = applyNormalisation(r.seg, norm);
    for (let i = 0; i < ends.length; i += CHUNK) {
      const chunk = ends.slice(i, i + CHUNK);
      const { x, known } = gather(normed, r.seg, chunk, windowSteps, norm.sensors);
      const recon = reconstruct(tf, model, x, chunk.length, windowSteps, F);
      parts.push(residualFeatures(x, recon, chunk.length, windowSteps, F, S, known));
      for (const k of chunk) {
        machine.push(r.seg.machine);
        endTs.push(r.seg.startTs + (k + 1) * r.seg.stepMs);
      }
    }
  }
  const features = new Float32Array(machine.length * 2 * S);
  let at = 0;
  for (const p of parts) {
    features.set(p, at);
    at += p.length;
  }
  return { features, n: machine.length, machine, endTs: Float64Array.from(endTs) };
}

/** Anomaly scores of windows, grouped per machine in time order (what smoothing and the alert rule walk). */
export function seriesOf(
  wf: WindowFeatures,
  moments: { mean: number[]; precision: number[] },
): Array<{ machine: string; endTs: Float64Array; score: Float32Array }> {
  const scores = anomalyScores(wf.features, wf.n, moments);
  const byMachine = new Map<string, number[]>();
  for (let i = 0; i < wf.n; i++) {
    const list = byMachine.get(wf.machine[i]!) ?? [];
    list.push(i);
    byMachine.set(wf.machine[i]!, list);
  }
  return [...byMachine].map(([machine, idx]) => {
    idx.sort((a, b) => wf.endTs[a]! - wf.endTs[b]!);
    return { machine, endTs: Float64Array.from(idx, (i) => wf.endTs[i]!), score: Float32Array.from(idx, (i) => scores[i]!) };
  });
}
