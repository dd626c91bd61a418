/**
 * The health model on C-MAPSS without labels: trained only on the first cycles of each training
 * engine (healthy by construction; nothing about its failure is used), then its index on engines it
 * never saw. Validation: held-out training engines, every cycle judged by its true remaining life.
 * Test (after the configuration is fixed): each test engine's index at its last cycle against the
 * published RUL — ROC-AUC for "fails within 30 cycles" and Spearman with the true RUL.
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alignToGrid } from '../../src/features/align.js';
import type { TF } from '../../src/model/backend.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { rocAuc } from '../../src/training/health-calibration.js';
import type { TrainingConfig } from '../../src/training/worker-input.js';
import { Rng } from '../../src/core/random.js';
import { parseCmapss } from '../../simulators/replay/cmapss.js';
import { CMAPSS_CONDITIONS, CMAPSS_SENSORS, cmapssFiles, cmapssSamples, type CmapssSubset } from './cmapss.js';
import { cut, healthData, healthIndexSeries, trainHealth, type MachineHistory } from './health.js';

/** Published framing: "fails within 30 cycles". */
export const HORIZON = 30;

export interface CmapssHealthOptions {
  dataDir: string;
  subset: CmapssSubset;
  conditions: boolean;
  /** Cycles of each training engine learned from (all before any failure shows). */
  healthyCycles: number;
  seed: number;
  config: (modelsDir: string, seed: number) => TrainingConfig;
  validationOnly: boolean;
}

export interface CmapssHealthResult {
  validation: { auc: number | null; spearman: number | null; engines: number };
  test: { auc: number | null; spearman: number | null; engines: number; positives: number } | null;
  version: string;
  threshold: number;
}

/** Each unit's readings as one segment on a one-step-per-cycle grid (cycle c at ts c − 1). */
function units(file: string, conditions: boolean): MachineHistory[] {
  const { rows } = parseCmapss(readFileSync(file, 'utf8'), file, true);
  const sensors = conditions ? [...CMAPSS_SENSORS, ...CMAPSS_CONDITIONS] : CMAPSS_SENSORS;
  return [...cmapssSamples(rows, false, sensors).values()].map(({ samples }) => {
    const machine = samples[0]!.machine.machine;
    return { machine, segments: alignToGrid(machine, samples, sensors, 1, 0).segments, events: [] };
  });
}

function spearman(a: readonly number[], b: readonly number[]): number | null {
  if (a.length < 3) return null;
  const rank = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j < order.length && order[j]![0] === order[i]![0]) j++;
      for (let k = i; k < j; k++) r[order[k]![1]] = (i + j - 1) / 2;
      i = j;
    }
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const mean = (ra.length - 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}

export async function cmapssHealth(tf: TF, o: CmapssHealthOptions): Promise<CmapssHealthResult> {
  const files = cmapssFiles(o.dataDir, o.subset);
  const train = units(files.train, o.conditions);
  // A fifth of the training engines held out, whole, for choosing settings (seeded).
  const rng = new Rng(o.seed ^ 0xc4a5);
  const order = train.map((u) => u.machine);
  rng.shuffle(order);
  const held = new Set(order.slice(0, Math.round(order.length * 0.2)));
  const learnFrom = train
    .filter((u) => !held.has(u.machine))
    .map((u) => ({ ...u, segments: u.segments.map((s) => cut(s, o.healthyCycles)!).filter(Boolean) }));
  const modelsDir = path.join(os.tmpdir(), `vigil-health-cmapss-${process.pid}-${o.seed}`);
  rmSync(modelsDir, { recursive: true, force: true });
  const config = o.config(modelsDir, o.seed);
  const windowSteps = config.health.window ?? config.learning.window;
  const sensors = o.conditions ? [...CMAPSS_SENSORS, ...CMAPSS_CONDITIONS] : CMAPSS_SENSORS;
  try {
    const data = healthData(`cmapss-${o.subset.toLowerCase()}`, learnFrom, sensors, o.healthyCycles, windowSteps, HORIZON, []);
    const meta = await trainHealth(config, data, o.healthyCycles);
    const registry = new ModelRegistry(modelsDir);
    // Validation: every cycle of the held-out engines, by its true remaining life.
    const validationUnits = train.filter((u) => held.has(u.machine));
    const vIndex = await healthIndexSeries(tf, registry, meta.version, validationUnits, -Infinity, Infinity);
    const pos: number[] = [];
    const neg: number[] = [];
    const hi: number[] = [];
    const rul: number[] = [];
    for (const u of validationUnits) {
      const points = vIndex.get(u.machine) ?? [];
      const last = u.segments.at(-1)!;
      const failureTs = last.startTs + last.steps;
      for (const p of points) {
        const remaining = failureTs - p.endTs;
        (remaining <= HORIZON ? pos : neg).push(100 - p.index);
        hi.push(p.index);
        rul.push(Math.min(125, remaining));
      }
    }
    const validation = { auc: rocAuc(pos, neg), spearman: spearman(hi, rul), engines: validationUnits.length };
    if (o.validationOnly) return { validation, test: null, version: meta.version, threshold: meta.calibration.threshold };
    // Test: read only now, with the configuration fixed.
    const test = units(files.test, o.conditions);
    const trueRul = readFileSync(files.rul, 'utf8').trim().split(/\s+/).map(Number);
    const tIndex = await healthIndexSeries(tf, registry, meta.version, test, -Infinity, Infinity);
    const tPos: number[] = [];
    const tNeg: number[] = [];
    const tHi: number[] = [];
    const tRul: number[] = [];
    test.forEach((u, i) => {
      const last = tIndex.get(u.machine)?.at(-1);
      if (!last) return;
      const r = trueRul[i]!;
      (r <= HORIZON ? tPos : tNeg).push(100 - last.index);
      tHi.push(last.index);
      tRul.push(r);
    });
    return {
      validation,
      test: { auc: rocAuc(tPos, tNeg), spearman: spearman(tHi, tRul), engines: tHi.length, positives: tPos.length },
      version: meta.version,
      threshold: meta.calibration.threshold,
    };
  } finally {
    rmSync(modelsDir, { recursive: true, force: true });
  }
}
