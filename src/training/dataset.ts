import type { LearningConfig } from './config.js';
import { alignToGrid, labelSteps, type LabelledSegment, type KindGroup } from '../features/index.js';
import type { SensorStore } from '../core/sensor-store.js';

export interface Dataset {
  items: LabelledSegment[];
  sensors: string[];
  from: number;
  to: number;
  machines: number;
  failures: number;
  /** Data-quality facts reported with every run. */
  quality: {
    missingRatio: Record<string, number>;
    flatlineRatio: Record<string, number>;
    filledSteps: number;
    breaks: number;
    samples: number;
  };
}

/**
 * Reads the readings and events in the lookback window of every machine (of one kind, when given)
 * from the store and labels them. A kind's inputs are the sensors its machines send, nothing else.
 */
export async function loadDataset(store: SensorStore, cfg: LearningConfig, now: number, kind?: KindGroup): Promise<Dataset> {
  const to = now;
  const from = now - cfg.lookback;
  const members = kind ? new Set(kind.machines) : null;
  const machines = (await store.listMachines()).filter((m) => !members || members.has(m.ref.machine));
  const sent = new Set(machines.flatMap((m) => m.sensors));
  // The condition channels are read even when the sensors are listed: the regimes are found from them.
  const sensors =
    cfg.sensors.length > 0 ? [...new Set([...cfg.sensors, ...cfg.conditions])].filter((s) => !kind || sent.has(s)) : [...sent].sort();
  const items: LabelledSegment[] = [];
  const missingSum: Record<string, number> = Object.fromEntries(sensors.map((s) => [s, 0]));
  const flatSum: Record<string, number> = Object.fromEntries(sensors.map((s) => [s, 0]));
  let filledSteps = 0;
  let breaks = 0;
  let samplesSeen = 0;
  let failures = 0;
  let withData = 0;
  for (const m of machines) {
    const samples = await store.queryReadings({
      machine: m.ref.machine,
      from,
      to,
      sensors: cfg.sensors.length > 0 ? sensors : undefined,
    });
    if (samples.length === 0) continue;
    withData++;
    samplesSeen += samples.length;
    const events = await store.queryEvents({ machine: m.ref.machine, from: from - cfg.step * cfg.window, to });
    failures += events.filter((e) => e.type === 'failure').length;
    const { segments, stats } = alignToGrid(m.ref.machine, samples, sensors, cfg.step, cfg.maxGapSteps);
    filledSteps += stats.filledSteps;
    breaks += stats.breaks;
    for (const s of sensors) {
      missingSum[s]! += stats.missingRatio[s] ?? 1;
      flatSum[s]! += stats.flatlineRatio[s] ?? 0;
    }
    const observedUntil = Math.min(now, samples[samples.length - 1]!.ts + cfg.step);
    for (const seg of segments) {
      if (seg.steps < cfg.window) continue;
      items.push({
        seg,
        labels: labelSteps(seg, cfg.window, events, { horizonSteps: cfg.horizon, rulCapSteps: cfg.rulCap, observedUntil }),
      });
    }
  }
  const mean = (sums: Record<string, number>, empty: number) =>
    Object.fromEntries(sensors.map((s) => [s, withData > 0 ? Math.round((sums[s]! / withData) * 1000) / 1000 : empty]));
  return {
    items,
    sensors,
    from,
    to,
    machines: withData,
    failures,
    quality: { missingRatio: mean(missingSum, 1), flatlineRatio: mean(flatSum, 0), filledSteps, breaks, samples: samplesSeen },
  };
}
