import type { Rng } from '../core/random.js';
import type { HealthData } from './health-data.js';
import type { WindowRefs } from './health-evaluate.js';

export interface NormalSplit {
  /** Normal windows to learn from, each with its weight (a verdict of normal counts more). */
  train: Array<WindowRefs & { weight: number[] }>;
  /** Held-out normal windows: what the index and its threshold are calibrated on. */
  calibration: WindowRefs[];
  method: 'by-machine' | 'by-time';
}

/** With this many machines or more, whole machines are held out; with fewer, each machine's latest data. */
const MACHINES_FOR_A_MACHINE_SPLIT = 5;

/**
 * Held-out data never trains, as for the failure model: with enough machines, whole machines (a
 * seeded `holdOut` share of them) calibrate; with fewer, each machine's latest `holdOut` of normal
 * windows does, its earlier ones a window's length apart train.
 */
export function splitNormal(
  data: Pick<HealthData, 'items'>,
  o: { windowSteps: number; stride: number; holdOut: number; verdictWeight: number },
  rng: Rng,
): NormalSplit {
  const byMachine = new Map<string, HealthData['items']>();
  for (const it of data.items)
    if (it.normal.some((v) => v === 1)) byMachine.set(it.seg.machine, [...(byMachine.get(it.seg.machine) ?? []), it]);
  const machines = [...byMachine.keys()].sort();
  const out: NormalSplit = {
    train: [],
    calibration: [],
    method: machines.length >= MACHINES_FOR_A_MACHINE_SPLIT ? 'by-machine' : 'by-time',
  };
  let held = new Set<string>();
  if (out.method === 'by-machine') {
    rng.shuffle(machines);
    held = new Set(machines.slice(0, Math.max(1, Math.round(machines.length * o.holdOut))));
  }
  for (const [machine, items] of byMachine) {
    let splitTs = held.has(machine) ? -Infinity : Infinity;
    if (out.method === 'by-time') {
      const ends = items.flatMap((it) =>
        [...it.normal.keys()].filter((k) => it.normal[k] === 1).map((k) => it.seg.startTs + (k + 1) * it.seg.stepMs),
      );
      ends.sort((a, b) => a - b);
      splitTs = ends[Math.floor(ends.length * (1 - o.holdOut))] ?? Infinity;
    }
    for (const it of items) {
      const train: number[] = [];
      const weight: number[] = [];
      const calibration: number[] = [];
      for (let k = o.windowSteps - 1; k < it.seg.steps; k++) {
        if (it.normal[k] !== 1) continue;
        const end = it.seg.startTs + (k + 1) * it.seg.stepMs;
        if (end >= splitTs) calibration.push(k);
        else if (end < splitTs - o.windowSteps * it.seg.stepMs && (k - o.windowSteps + 1) % o.stride === 0) {
          train.push(k);
          weight.push(it.vouched[k] === 1 ? o.verdictWeight : 1);
        }
      }
      if (train.length > 0) out.train.push({ seg: it.seg, ends: train, weight });
      if (calibration.length > 0) out.calibration.push({ seg: it.seg, ends: calibration });
    }
  }
  return out;
}
