import { readFileSync } from 'node:fs';
import type { LayersModel } from '@tensorflow/tfjs';
import type { MachineEvent, Sample } from '../../src/core/types.js';
import { alignToGrid, smoothSegment } from '../../src/features/align.js';
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
  o: { window: number; horizon: number; rulCap: number; smoothing?: number; inputs?: readonly string[] },
): LabelledSegment[] {
  const { rows } = parseCmapss(readFileSync(file, 'utf8'), file, true);
  const inputs = o.inputs ?? CMAPSS_INPUTS;
  const out: LabelledSegment[] = [];
  for (const { samples, events } of cmapssSamples(rows, true, inputs).values()) {
    const { segments } = alignToGrid(samples[0]!.machine.machine, samples, inputs, 1, 0);
    for (const raw of segments) {
      const seg = smoothSegment(raw, o.smoothing ?? 1);
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
  /** Engines in the binary protocol (at least `window` cycles). */
  binaryEngines: number;
}

/**
 * The published protocols: binary "fails within `horizon` cycles" on the last window of each test
 * engine with at least `window` cycles; RUL RMSE over all engines' last windows (shorter engines
 * front-padded), true and predicted RUL capped at `rulCap`.
 */
export function evaluateCmapssTest(
  tf: TF,
  model: LayersModel,
  norm: Normalisation,
  testFile: string,
  rulFile: string,
  o: { window: number; horizon: number; rulCap: number; threshold: number; smoothing?: number },
): CmapssTestResult {
  // An input missing here would be scored as its training mean without a word: refuse instead.
  const unknown = channels(norm).filter((s) => !CMAPSS_VALUES.includes(s));
  if (unknown.length > 0) throw new Error(`the model's inputs ${unknown.join(', ')} are not C-MAPSS values (${CMAPSS_VALUES.join(', ')})`);
  const { rows } = parseCmapss(readFileSync(testFile, 'utf8'), testFile, true);
  const trueRul = readFileSync(rulFile, 'utf8').trim().split(/\s+/).map(Number);
  // Every value is offered; the model's normalisation picks the inputs it was trained on.
  const units = [...cmapssSamples(rows, false, CMAPSS_VALUES).entries()].sort((a, b) => a[0] - b[0]);
  const F = inputNames(norm).length;
  const x = new Float32Array(units.length * o.window * F);
  const cycles: number[] = [];
  units.forEach(([, { samples }], i) => {
    const { segments } = alignToGrid(samples[0]!.machine.machine, samples, CMAPSS_VALUES, 1, 0);
    const seg = applyNormalisation(smoothSegment(segments[0]!, o.smoothing ?? 1), norm);
    x.set(lastWindow(seg, o.window), i * o.window * F);
    cycles.push(samples.length);
  });
  const { p, rul } = predict(tf, model, x, units.length, o.window, F);
  const predRul = Array.from(rul, (r) => Math.min(o.rulCap, Math.max(0, r * o.rulCap)));
  const actual = units.map(([unit]) => Math.min(o.rulCap, trueRul[unit - 1]!));
  const binary = units.map((_, i) => i).filter((i) => cycles[i]! >= o.window);
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
