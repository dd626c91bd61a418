/**
 * What a health model learns from: a kind's readings on the grid, each window marked normal unless a
 * labelled failure, a breakdown or a technician's verdict says otherwise.
 */
import { alignToGrid, type KindGroup, type Segment } from '../features/index.js';
import type { MachineEvent } from '../core/types.js';
import type { SensorStore } from '../core/sensor-store.js';
import type { LearningConfig } from './config.js';

/**
 * A stretch of one machine's time a verdict covers: `normal` (a technician said this behaviour is
 * fine: learned from, with weight), `abnormal` (a real problem that was no failure: left out, and a
 * positive when choosing the threshold), `suspect` (an anomaly alert nobody has judged yet: left out).
 */
export interface VerdictPeriod {
  machine: string;
  from: number;
  to: number;
  verdict: 'normal' | 'abnormal' | 'suspect';
}

export interface HealthItem {
  /** Raw readings (not normalised): a challenger and its champion each scale them their own way. */
  seg: Segment;
  /** Per step k: 1 when the window ending with step k is normal operation. */
  normal: Uint8Array;
  /** Per step k: 1 when that window lies in a period a technician called normal. */
  vouched: Uint8Array;
}

export interface HealthData {
  kind: KindGroup;
  items: HealthItem[];
  sensors: string[];
  from: number;
  to: number;
  machines: number;
  /** Normal windows' steps and the machines they come from (what `health.minNormal` counts). */
  normalSteps: number;
  normalMachines: number;
  /** Labelled failures of the kind's machines in the lookback. */
  failures: Array<{ machine: string; ts: number }>;
  /** Abnormal periods of its machines (technicians' verdicts). */
  abnormal: VerdictPeriod[];
  verdicts: { normal: number; abnormal: number; normalHours: number; abnormalHours: number };
  samples: number;
}

export interface NormalOptions {
  windowSteps: number;
  /** Windows this close before a labelled failure are its run-up, not normal. */
  horizonSteps: number;
  periods: readonly VerdictPeriod[];
}

/**
 * Which windows of a segment are normal: none containing a failure, ending within the horizon before
 * one, lying between a failure and the repair (or maintenance) after it, or touching an abnormal or
 * unjudged period; and which lie in a period called normal.
 */
export function normalWindows(
  seg: Segment,
  events: readonly MachineEvent[],
  o: NormalOptions,
): { normal: Uint8Array; vouched: Uint8Array } {
  const failures = events.filter((e) => e.type === 'failure').map((e) => e.ts);
  const restarts = events.filter((e) => e.type === 'repair' || e.type === 'maintenance').map((e) => e.ts);
  const mine = o.periods.filter((p) => p.machine === seg.machine);
  const normal = new Uint8Array(seg.steps);
  const vouched = new Uint8Array(seg.steps);
  const step = seg.stepMs;
  for (let k = o.windowSteps - 1; k < seg.steps; k++) {
    const end = seg.startTs + (k + 1) * step;
    const begin = end - o.windowSteps * step;
    if (failures.some((f) => f >= begin && f <= end + o.horizonSteps * step)) continue;
    const before = failures.filter((f) => f < begin);
    const lastFailure = before.length > 0 ? Math.max(...before) : null;
    if (
      lastFailure !== null &&
      !restarts.some((r) => r > lastFailure && r <= begin) &&
      !(restarts.length === 0 && seg.startTs > lastFailure)
    )
      continue;
    const touching = mine.filter((p) => p.from < end && p.to >= begin);
    if (touching.some((p) => p.verdict !== 'normal')) continue;
    normal[k] = 1;
    if (touching.length > 0) vouched[k] = 1;
  }
  return { normal, vouched };
}

/** The kind's readings over the lookback on the health model's grid, with its normal windows marked. */
export async function loadHealthData(
  store: SensorStore,
  cfg: LearningConfig,
  windowSteps: number,
  now: number,
  kind: KindGroup,
  periods: readonly VerdictPeriod[],
): Promise<HealthData> {
  const from = now - cfg.lookback;
  const members = new Set(kind.machines);
  const machines = (await store.listMachines()).filter((m) => members.has(m.ref.machine));
  const sent = new Set(machines.flatMap((m) => m.sensors));
  const sensors = cfg.sensors.length > 0 ? [...new Set([...cfg.sensors, ...cfg.conditions])].filter((s) => sent.has(s)) : [...sent].sort();
  const items: HealthItem[] = [];
  const failures: HealthData['failures'] = [];
  const mine = periods.filter((p) => members.has(p.machine) && p.to >= from);
  let normalSteps = 0;
  let samplesSeen = 0;
  const normalMachines = new Set<string>();
  let withData = 0;
  for (const m of machines) {
    const samples = await store.queryReadings({
      machine: m.ref.machine,
      from,
      to: now,
      sensors: cfg.sensors.length > 0 ? sensors : undefined,
    });
    if (samples.length === 0) continue;
    withData++;
    samplesSeen += samples.length;
    const events = await store.queryEvents({ machine: m.ref.machine, from: from - cfg.step * windowSteps, to: now });
    for (const e of events) if (e.type === 'failure' && e.ts >= from) failures.push({ machine: m.ref.machine, ts: e.ts });
    const { segments } = alignToGrid(m.ref.machine, samples, sensors, cfg.step, cfg.maxGapSteps);
    for (const seg of segments) {
      if (seg.steps < windowSteps) continue;
      const marks = normalWindows(seg, events, { windowSteps, horizonSteps: cfg.horizon, periods: mine });
      const n = marks.normal.reduce((a, v) => a + v, 0);
      normalSteps += n;
      if (n > 0) normalMachines.add(m.ref.machine);
      items.push({ seg, ...marks });
    }
  }
  return {
    kind,
    items,
    sensors,
    from,
    to: now,
    machines: withData,
    normalSteps,
    normalMachines: normalMachines.size,
    failures,
    abnormal: mine.filter((p) => p.verdict === 'abnormal'),
    verdicts: verdictSummary(mine),
    samples: samplesSeen,
  };
}

/** How many periods technicians called normal and abnormal, and how many hours they cover. */
export function verdictSummary(periods: readonly VerdictPeriod[]): HealthData['verdicts'] {
  const of = (v: VerdictPeriod['verdict']) => periods.filter((p) => p.verdict === v);
  const hours = (ps: VerdictPeriod[]) => Math.round(ps.reduce((h, p) => h + (p.to - p.from) / 3_600_000, 0) * 10) / 10;
  return {
    normal: of('normal').length,
    abnormal: of('abnormal').length,
    normalHours: hours(of('normal')),
    abnormalHours: hours(of('abnormal')),
  };
}
