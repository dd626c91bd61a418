/**
 * The health model outside the daemon, for benchmarks: trained through the daemon's own run assembly
 * and steps (only the reading of the data differs: it is handed over, not read from a store), scored
 * with the same residuals, smoothing, index and alert rule as the inference worker and the alerts.
 */
import { HysteresisRule } from '../../src/core/hysteresis.js';
import type { Segment } from '../../src/features/align.js';
import { healthIndex } from '../../src/model/health-score.js';
import type { TF } from '../../src/model/backend.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import type { HealthModelMeta } from '../../src/registry/meta.js';
import { assembleRun } from '../../src/training/assembly.js';
import { smoothSeries } from '../../src/training/health-calibration.js';
import { normalWindows, verdictSummary, type HealthData, type HealthItem, type VerdictPeriod } from '../../src/training/health-data.js';
import { seriesOf, windowFeatures } from '../../src/training/health-evaluate.js';
import { healthSteps } from '../../src/training/health-run.js';
import type { TrainingConfig } from '../../src/training/worker-input.js';
import type { MachineEvent } from '../../src/core/types.js';

export interface MachineHistory {
  machine: string;
  segments: Segment[];
  /** Failure (and repair) events Vigil is told of: none in the unlabelled runs. */
  events: MachineEvent[];
}

/** The data a health run of one kind would read, built from segments in memory up to `until`. */
export function healthData(
  kind: string,
  machines: readonly MachineHistory[],
  sensors: string[],
  until: number,
  windowSteps: number,
  horizonSteps: number,
  periods: readonly VerdictPeriod[],
): HealthData {
  const items: HealthItem[] = [];
  let normalSteps = 0;
  const normalMachines = new Set<string>();
  const failures: HealthData['failures'] = [];
  for (const m of machines) {
    const events = m.events.filter((e) => e.ts < until);
    for (const e of events) if (e.type === 'failure') failures.push({ machine: m.machine, ts: e.ts });
    for (const full of m.segments) {
      const seg = cut(full, until);
      if (!seg || seg.steps < windowSteps) continue;
      const marks = normalWindows(seg, events, { windowSteps, horizonSteps, periods });
      const n = marks.normal.reduce((a, v) => a + v, 0);
      normalSteps += n;
      if (n > 0) normalMachines.add(m.machine);
      items.push({ seg, ...marks });
    }
  }
  const from = Math.min(...items.map((i) => i.seg.startTs));
  return {
    kind: { kind, source: 'config', machines: machines.map((m) => m.machine), sensors },
    items,
    sensors,
    from,
    to: until,
    machines: machines.length,
    normalSteps,
    normalMachines: normalMachines.size,
    failures,
    abnormal: periods.filter((p) => p.verdict === 'abnormal'),
    verdicts: verdictSummary(periods),
    samples: items.reduce((n, i) => n + i.seg.steps, 0),
  };
}

/** The part of a segment before `until`, or null when none of it is. */
export function cut(seg: Segment, until: number): Segment | null {
  const steps = Math.min(seg.steps, Math.floor((until - seg.startTs) / seg.stepMs));
  if (steps <= 0) return null;
  if (steps === seg.steps) return seg;
  return { ...seg, steps, data: seg.data.subarray(0, steps * seg.sensors.length) };
}

/** One health run on the data given, registered in `config.learning.modelsDir`: its meta.json. */
export async function trainHealth(config: TrainingConfig, data: HealthData, now: number): Promise<HealthModelMeta> {
  const steps = healthSteps({ config, now });
  const result = await assembleRun({ config, now }, { ...steps, read: async () => data });
  if (!result.meta || result.meta.role !== 'health') throw new Error('the health run made no model');
  return result.meta;
}

export interface IndexPoint {
  endTs: number;
  index: number;
  threshold: number;
}

/**
 * A model's health index over stretches of segments (windows ending in [from, to)), smoothed per
 * machine as the scoring service does.
 */
export async function healthIndexSeries(
  tf: TF,
  registry: ModelRegistry,
  version: string,
  machines: readonly MachineHistory[],
  from: number,
  to: number,
): Promise<Map<string, IndexPoint[]>> {
  const meta = registry.healthMeta(version);
  const model = await registry.load(tf, version);
  try {
    const c = meta.calibration;
    const refs = machines.flatMap((m) =>
      m.segments.map((seg) => ({
        seg,
        ends: Array.from({ length: seg.steps }, (_, k) => k).filter((k) => {
          const end = seg.startTs + (k + 1) * seg.stepMs;
          return k >= meta.window - 1 && end >= from && end < to;
        }),
      })),
    );
    const wf = windowFeatures(tf, model, meta.normalisation, meta.window, refs);
    const rule = { stepMs: meta.stepMs, smoothingSteps: c.smoothingSteps, openAfter: 1, closeAfter: 1, hysteresis: 0 };
    const smoothed = smoothSeries(seriesOf(wf, c), rule, c.scale.median, meta.window);
    return new Map(
      smoothed.map((s) => [
        s.machine,
        Array.from(s.smoothed, (v, i) => ({ endTs: s.endTs[i]!, index: healthIndex(v, c.scale), threshold: c.threshold })),
      ]),
    );
  } finally {
    model.dispose();
  }
}

export interface Episode {
  machine: string;
  openTs: number;
  closeTs: number | null;
}

/** Anomaly alert episodes over a machine's index points, with the alerts' debounce and hysteresis (threshold per point). */
export function episodes(
  machine: string,
  points: readonly IndexPoint[],
  o: { openAfter: number; closeAfter: number; hysteresis: number },
): Episode[] {
  const out: Episode[] = [];
  let rule: HysteresisRule | null = null;
  let open: Episode | null = null;
  for (const p of points) {
    const high = 100 - p.threshold;
    const low = 100 - Math.min(100, p.threshold + o.hysteresis);
    if (!rule) rule = new HysteresisRule({ high, low, openAfter: o.openAfter, closeAfter: o.closeAfter });
    else rule.setHigh(high, low);
    const t = rule.observe(100 - p.index);
    if (t === 'open') out.push((open = { machine, openTs: p.endTs, closeTs: null }));
    else if (t === 'close' && open) {
      open.closeTs = p.endTs;
      open = null;
    }
  }
  return out;
}
