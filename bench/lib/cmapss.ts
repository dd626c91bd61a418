import { readFileSync } from 'node:fs';
import type { LayersModel } from '@tensorflow/tfjs';
import type { MachineEvent, Sample } from '../../src/core/types.js';
import { alignToGrid } from '../../src/features/align.js';
import { labelSteps } from '../../src/features/labels.js';
import { applyNormalisation, channels, inputNames, type Normalisation } from '../../src/features/normalize.js';
import type { LabelledSegment } from '../../src/features/split.js';
import { lastWindow } from '../../src/features/windows.js';
import type { TF } from '../../src/model/backend.js';
import { predict } from '../../src/model/lstm.js';
import {
  classification,
  rulByBand,
  rulMetrics,
  type ClassificationMetrics,
  type RulBand,
  type RulMetrics,
} from '../../src/model/metrics.js';
import { CMAPSS_CYCLE, CMAPSS_VALUES, parseCmapss, type CmapssRow } from '../../simulators/replay/cmapss.js';

/** The subsets in ../shared/data/cmapss/ (FD004 is not there). */
export const CMAPSS_SUBSETS = ['FD001', 'FD002', 'FD003'] as const;
export type CmapssSubset = (typeof CMAPSS_SUBSETS)[number];

export function cmapssFiles(dir: string, subset: CmapssSubset) {
  return {
    train: `${dir}/train_${subset}.txt`,
    test: `${dir}/test_${subset}.txt`,
    rul: `${dir}/RUL_${subset}.txt`,
  };
}

/**
 * The three operational settings (altitude, Mach number, throttle): FD002's six operating regimes;
 * in FD001 and FD003 noise around one condition.
 */
export const CMAPSS_CONDITIONS = ['op1', 'op2', 'op3'];

/** FD001 has one operating condition: the three settings are noise, the 21 sensors carry the signal. */
export const CMAPSS_SENSORS = Array.from({ length: 21 }, (_, i) => `s${i + 1}`);
/**
 * The model's inputs: the sensors and the cycle count (how long the engine has run; chosen on
 * validation only, docs/predictor.md).
 */
export const CMAPSS_INPUTS = [...CMAPSS_SENSORS, CMAPSS_CYCLE];

/**
 * C-MAPSS rows as samples on a one-millisecond-per-cycle grid (cycle c at ts c − 1) and, for
 * run-to-failure units, a failure one cycle after the last: the shape a replay stores, so the
 * benchmark runs the same feature code as training from the store.
 */
export function cmapssSamples(
  rows: readonly CmapssRow[],
  withFailures: boolean,
  sensors: readonly string[] = CMAPSS_INPUTS,
): Map<number, { samples: Sample[]; events: MachineEvent[] }> {
  const units = new Map<number, { samples: Sample[]; events: MachineEvent[] }>();
  for (const r of rows) {
    const machine = { site: 'cmapss', line: 'fd', machine: `u${r.unit}` };
    const values: Record<string, number> = {};
    for (const s of sensors) values[s] = r.values[s]!;
    const u = units.get(r.unit) ?? units.set(r.unit, { samples: [], events: [] }).get(r.unit)!;
    u.samples.push({ machine, ts: r.cycle - 1, values });
  }
  if (withFailures) {
    for (const u of units.values()) {
      const last = u.samples[u.samples.length - 1]!;
      u.events.push({ machine: last.machine, ts: last.ts + 1, type: 'failure' });
    }
  }
  return units;
}

export function labelledTrainingUnits(
  file: string,
  o: { window: number; horizon: number; rulCap: number; inputs?: readonly string[] },
): LabelledSegment[] {
  const { rows } = parseCmapss(readFileSync(file, 'utf8'), file, true);
  const inputs = o.inputs ?? CMAPSS_INPUTS;
  const out: LabelledSegment[] = [];
  for (const { samples, events } of cmapssSamples(rows, true, inputs).values()) {
    const { segments } = alignToGrid(samples[0]!.machine.machine, samples, inputs, 1, 0);
    for (const seg of segments) {
      out.push({
        seg,
        labels: labelSteps(seg, o.window, events, {
          horizonSteps: o.horizon,
          rulCapSteps: o.rulCap,
          observedUntil: samples[samples.length - 1]!.ts + 1,
        }),
      });
    }
  }
  return out;
}

export interface CmapssTestResult {
  classification: ClassificationMetrics;
  rul: RulMetrics;
  rulBands: RulBand[];
  /** Engines in the binary protocol (at least `binaryFrom` cycles). */
  binaryEngines: number;
}

/**
 * The published protocols: binary "fails within `horizon` cycles" on the last window of each test
 * engine with at least `binaryFrom` cycles (default: the window); RUL RMSE over all engines' last windows (shorter engines
 * front-padded), true and predicted RUL capped at `rulCap`.
 */
export function evaluateCmapssTest(
  tf: TF,
  model: LayersModel,
  norm: Normalisation,
  testFile: string,
  rulFile: string,
  o: {
    window: number;
    /** The binary protocol's engines: those with at least this many cycles, whatever the model's window. */
    binaryFrom?: number;
    horizon: number;
    rulCap: number;
    /** The RUL the model's output is a share of, when it was trained to a higher knee than the protocol's cap. */
    rulScale?: number;
    threshold: number;
    /** Average each engine's last `count` windows, `spacing` cycles apart (earlier RULs less the cycles since). */
    averageLast?: { count: number; spacing: number };
  },
): CmapssTestResult {
  // An input missing here would be scored as its training mean without a word: refuse instead.
  const unknown = channels(norm).filter((s) => !CMAPSS_VALUES.includes(s));
  if (unknown.length > 0) throw new Error(`the model's inputs ${unknown.join(', ')} are not C-MAPSS values (${CMAPSS_VALUES.join(', ')})`);
  const { rows } = parseCmapss(readFileSync(testFile, 'utf8'), testFile, true);
  const trueRul = readFileSync(rulFile, 'utf8').trim().split(/\s+/).map(Number);
  // Every value is offered; the model's normalisation picks the inputs it was trained on.
  const units = [...cmapssSamples(rows, false, CMAPSS_VALUES).entries()].sort((a, b) => a[0] - b[0]);
  const F = inputNames(norm).length;
  const count = o.averageLast?.count ?? 1;
  const spacing = o.averageLast?.spacing ?? 1;
  // Per engine, windows ending at its cut-off and `spacing`, 2·`spacing`, … cycles before it (all data before the
  // cut-off); the last is front-padded where the engine is shorter than a window, earlier ones need a whole one.
  const windows: Array<{ engine: number; back: number; x: Float32Array }> = [];
  const cycles: number[] = [];
  units.forEach(([, { samples }], i) => {
    const { segments } = alignToGrid(samples[0]!.machine.machine, samples, CMAPSS_VALUES, 1, 0);
    const seg = applyNormalisation(segments[0]!, norm);
    for (let j = 0; j < count; j++) {
      const back = j * spacing;
      if (j > 0 && seg.steps - back < o.window) break;
      const cut = { ...seg, steps: seg.steps - back, data: seg.data.subarray(0, (seg.steps - back) * seg.sensors.length) };
      windows.push({ engine: i, back, x: lastWindow(cut, o.window) });
    }
    cycles.push(samples.length);
  });
  const x = new Float32Array(windows.length * o.window * F);
  windows.forEach((w, k) => x.set(w.x, k * o.window * F));
  const out = predict(tf, model, x, windows.length, o.window, F);
  const sums = units.map(() => ({ p: 0, rul: 0, n: 0 }));
  windows.forEach((w, k) => {
    const sum = sums[w.engine]!;
    sum.p += out.p[k]!;
    sum.rul += Math.min(o.rulCap, Math.max(0, out.rul[k]! * (o.rulScale ?? o.rulCap))) - w.back;
    sum.n++;
  });
  const p = sums.map((t) => t.p / t.n);
  const predRul = sums.map((t) => Math.min(o.rulCap, Math.max(0, t.rul / t.n)));
  const actual = units.map(([unit]) => Math.min(o.rulCap, trueRul[unit - 1]!));
  const binary = units.map((_, i) => i).filter((i) => cycles[i]! >= (o.binaryFrom ?? o.window));
  return {
    classification: classification(
      binary.map((i) => p[i]!),
      binary.map((i) => (trueRul[units[i]![0] - 1]! <= o.horizon ? 1 : 0)),
      o.threshold,
    ),
    rul: rulMetrics(predRul, actual),
    rulBands: rulByBand(predRul, actual, o.horizon, o.rulCap),
    binaryEngines: binary.length,
  };
}

/**
 * Validation predictions averaged over each window and the `count` − 1 windows before it of the same
 * engine (a WindowSet holds each engine's windows in time order): what averaging the last windows does
 * at a cut-off, at every point of the validation engines' lives.
 */
export function averageOverLastWindows(
  ws: { n: number; machine: string[]; endTs: Float64Array },
  p: ArrayLike<number>,
  rul: ArrayLike<number>,
  count: number,
  o: { rulCap: number; stepMs: number },
): { p: Float64Array; rul: Float64Array } {
  const outP = new Float64Array(ws.n);
  const outRul = new Float64Array(ws.n);
  for (let i = 0; i < ws.n; i++) {
    let sumP = 0;
    let sumRul = 0;
    let n = 0;
    for (let j = i; j >= 0 && j > i - count && ws.machine[j] === ws.machine[i]; j--) {
      sumP += p[j]!;
      sumRul += Math.min(o.rulCap, Math.max(0, rul[j]! * o.rulCap)) - (ws.endTs[i]! - ws.endTs[j]!) / o.stepMs;
      n++;
    }
    outP[i] = sumP / n;
    outRul[i] = Math.min(o.rulCap, Math.max(0, sumRul / n));
  }
  return { p: outP, rul: outRul };
}
