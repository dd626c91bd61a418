/**
 * The health model on the fleet simulator, never labelled: machines from install through several
 * failures each; Vigil retrains each kind's health model on what it has seen (leaving out the
 * stretches its own unjudged alerts covered, as the daemon does), scores every machine every step
 * and raises anomaly alerts. Judged against the simulator's ground truth: which failures an alert
 * announced and how early (as a share of the wear-out that led to it), and the false alarms per
 * machine-month. Variants: the first one or two failures of each kind labelled; technicians calling
 * the first false alarms normal.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alignToGrid } from '../../src/features/align.js';
import type { TF } from '../../src/model/backend.js';
import type { MachineEvent, Sample } from '../../src/core/types.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import type { VerdictPeriod } from '../../src/training/health-data.js';
import type { TrainingConfig } from '../../src/training/worker-input.js';
import { Fleet, type GroundTruth } from '../../simulators/fleet/fleet.js';
import { resolveScenario } from '../../simulators/fleet/scenario.js';
import { episodes, healthData, healthIndexSeries, trainHealth, type Episode, type IndexPoint, type MachineHistory } from './health.js';

const DAY = 86_400_000;

export interface FleetVariant {
  name: string;
  /** The first N failures of each kind are told to Vigil (failure and repair events). */
  labelled: number;
  /** Technicians call the first N false alarms normal when they close. */
  verdicts: number;
}

export interface FleetHealthOptions {
  seed: number;
  days: number;
  machinesPerKind: number;
  kinds: Array<'pump' | 'motor' | 'gearbox'>;
  /** Days at which each kind's health model is (re)trained on the data so far. */
  retrainDays: number[];
  config: (modelsDir: string, seed: number) => TrainingConfig;
  variants: FleetVariant[];
  log?: (line: string) => void;
}

export interface FleetVariantResult {
  name: string;
  failures: number;
  warned: number;
  /** Median lead time as a share of each warned failure's wear-out (onset to failure). */
  medianLeadShare: number | null;
  falseAlarms: number;
  machineMonths: number;
  falseAlarmsPerMachineMonth: number;
  /** False alarms per machine-month after the last verdict was given (verdict variants), and before. */
  afterVerdicts: { falseAlarmsPerMachineMonth: number; machineMonths: number } | null;
  /** The last verdict's time (verdict variants): what the comparison with no verdicts runs from. */
  lastVerdictTs: number | null;
  /** False alarms per machine-month from `t` on: the same stretch judged for every variant. */
  falseAlarmsFrom(t: number): number;
  trainings: number;
}

interface Simulated {
  truth: GroundTruth;
  machines: Map<string, MachineHistory & { kind: string; sensors: string[] }>;
  stepMs: number;
}

/** The fleet, simulated at one reading a minute and averaged onto the model's grid as the daemon stores it. */
function simulate(o: FleetHealthOptions, stepMs: number, maxGapSteps: number): Simulated {
  const scenario = resolveScenario(
    {
      seed: o.seed,
      site: 'bench',
      duration: `${o.days}d`,
      rate: '1/min',
      downtime: '4h',
      machines: o.kinds.map((kind) => ({
        kind,
        count: o.machinesPerKind,
        line: kind,
        onsetDays: 5,
        wearDays: 3,
        faultsPerDay: 0.3,
        regimeHours: 6,
      })),
    },
    'bench:health',
  );
  const start = Date.UTC(2026, 0, 1);
  const fleet = new Fleet(scenario, start);
  const sums = new Map<string, { step: number; n: number; values: Record<string, number>; counts: Record<string, number> }>();
  const samples = new Map<string, Sample[]>();
  const flush = (machine: string) => {
    const acc = sums.get(machine);
    if (!acc || acc.n === 0) return;
    const values: Record<string, number> = {};
    for (const k in acc.values) values[k] = acc.values[k]! / acc.counts[k]!;
    samples.get(machine)!.push({ machine: { site: 'bench', line: 'bench', machine }, ts: acc.step * stepMs, values });
  };
  for (const m of fleet.machines) samples.set(m.ref.machine, []);
  for (let t = start; t < start + scenario.durationMs; t += scenario.intervalMs) {
    for (const msg of fleet.step(t)) {
      if (!('values' in msg.payload)) continue;
      const machine = msg.topic.split('/')[3]!;
      const step = Math.floor(t / stepMs);
      let acc = sums.get(machine);
      if (!acc || acc.step !== step) {
        flush(machine);
        acc = { step, n: 0, values: {}, counts: {} };
        sums.set(machine, acc);
      }
      acc.n++;
      for (const [k, v] of Object.entries(msg.payload.values)) {
        acc.values[k] = (acc.values[k] ?? 0) + v;
        acc.counts[k] = (acc.counts[k] ?? 0) + 1;
      }
    }
  }
  for (const m of fleet.machines) flush(m.ref.machine);
  const truth = fleet.finish(start + scenario.durationMs);
  const machines = new Map<string, MachineHistory & { kind: string; sensors: string[] }>();
  for (const m of fleet.machines) {
    const sensors = [...m.sensors];
    const { segments } = alignToGrid(m.ref.machine, samples.get(m.ref.machine)!, sensors, stepMs, maxGapSteps);
    machines.set(m.ref.machine, { machine: m.ref.machine, kind: m.kind, sensors, segments, events: [] });
  }
  return { truth, machines, stepMs };
}

/** The failure an episode announced: open at its time, or closed within `graceMs` before it. */
function announced(e: Episode, failures: GroundTruth['failures'], graceMs: number) {
  return failures.find(
    (f) => f.machine === e.machine && e.openTs <= f.failureTs && (e.closeTs === null || e.closeTs >= f.failureTs - graceMs),
  );
}

/**
 * Whether an episode points at real wear: it overlaps a wear-out (onset to failure, or onset to the
 * end for wear still under way). An alert that comes and goes while a component wears is early, not
 * false; one outside every wear-out is a false alarm.
 */
function duringWear(e: Episode, truth: GroundTruth, graceMs: number): boolean {
  const close = e.closeTs ?? truth.endTs;
  return (
    truth.failures.some((f) => f.machine === e.machine && e.openTs <= f.failureTs + graceMs && close >= f.onsetTs) ||
    truth.degradingAtEnd.some((d) => d.machine === e.machine && close >= d.onsetTs)
  );
}

export async function fleetHealth(tf: TF, o: FleetHealthOptions): Promise<FleetVariantResult[]> {
  const base = o.config('', o.seed);
  const stepMs = base.learning.step;
  const windowSteps = base.health.window ?? base.learning.window;
  const graceMs = base.learning.horizon * stepMs;
  const sim = simulate(o, stepMs, base.learning.maxGapSteps);
  const start = sim.truth.startTs;
  const end = sim.truth.endTs;
  const results: FleetVariantResult[] = [];
  for (const v of o.variants) {
    const modelsDir = path.join(os.tmpdir(), `vigil-health-fleet-${process.pid}-${o.seed}-${v.name}`);
    rmSync(modelsDir, { recursive: true, force: true });
    const config = o.config(modelsDir, o.seed);
    const registry = new ModelRegistry(modelsDir);
    const points = new Map<string, IndexPoint[]>();
    const verdicts: VerdictPeriod[] = [];
    let lastVerdictTs: number | null = null;
    let trainings = 0;
    // The first N failures of each kind, labelled (with the repair after each).
    const labelledEvents = new Map<string, MachineEvent[]>();
    for (const kind of o.kinds) {
      const theirs = sim.truth.failures
        .filter((f) => sim.machines.get(f.machine)!.kind === kind)
        .sort((a, b) => a.failureTs - b.failureTs)
        .slice(0, v.labelled);
      for (const f of theirs) {
        const ref = { site: 'bench', line: 'bench', machine: f.machine };
        const list = labelledEvents.get(f.machine) ?? [];
        list.push({ machine: ref, ts: f.failureTs, type: 'failure' });
        if (f.repairTs !== null) list.push({ machine: ref, ts: f.repairTs, type: 'repair' });
        labelledEvents.set(f.machine, list);
      }
    }
    const times = [...o.retrainDays.map((d) => start + d * DAY), end];
    const scoredFrom = times[0]!;
    for (let i = 0; i < times.length - 1; i++) {
      const at = times[i]!;
      const next = times[i + 1]!;
      const judged = allEpisodes(points, config).filter((e) => e.closeTs === null || e.closeTs < at);
      // Unjudged alerts' stretches are left out of training, as the daemon does (suspect); judged ones as judged.
      const periods: VerdictPeriod[] = [
        ...verdicts,
        ...judged
          .filter((e) => !verdicts.some((p) => p.machine === e.machine && p.to === (e.closeTs ?? at)))
          .map((e) => ({ machine: e.machine, from: e.openTs - windowSteps * stepMs, to: e.closeTs ?? at, verdict: 'suspect' as const })),
      ];
      for (const kind of o.kinds) {
        const machines = [...sim.machines.values()]
          .filter((m) => m.kind === kind)
          .map((m) => ({ ...m, events: (labelledEvents.get(m.machine) ?? []).filter((e) => e.ts < at) }));
        const data = healthData(kind, machines, machines[0]!.sensors, at, windowSteps, config.learning.horizon, periods);
        try {
          await trainHealth(config, data, at);
          trainings++;
        } catch (err) {
          o.log?.(`  ${v.name} ${kind} day ${((at - start) / DAY).toFixed(0)}: no model (${(err as Error).message})`);
        }
        const champion = registry.championVersion(kind, 'health');
        if (!champion) continue;
        const scored = await healthIndexSeries(tf, registry, champion, machines, at, next);
        for (const [machine, list] of scored) points.set(machine, [...(points.get(machine) ?? []), ...list]);
      }
      // Technicians call the first false alarms normal as they close.
      if (v.verdicts > 0) {
        for (const e of allEpisodes(points, config)) {
          if (verdicts.filter((p) => p.verdict === 'normal').length >= v.verdicts) break;
          if (e.closeTs === null || e.closeTs >= next || duringWear(e, sim.truth, graceMs)) continue;
          if (verdicts.some((p) => p.machine === e.machine && p.to === e.closeTs)) continue;
          verdicts.push({ machine: e.machine, from: e.openTs - windowSteps * stepMs, to: e.closeTs, verdict: 'normal' });
          lastVerdictTs = Math.max(lastVerdictTs ?? -Infinity, e.closeTs);
        }
      }
    }
    rmSync(modelsDir, { recursive: true, force: true });
    results.push(judge(v.name, allEpisodes(points, config), sim, scoredFrom, end, graceMs, lastVerdictTs, trainings));
  }
  return results;
}

function allEpisodes(points: Map<string, IndexPoint[]>, config: TrainingConfig): Episode[] {
  return [...points].flatMap(([machine, list]) => episodes(machine, list, config.health)).sort((a, b) => a.openTs - b.openTs);
}

/** Machine-months of operation in [from, to) (time not down after a failure). */
function machineMonths(sim: Simulated, from: number, to: number): number {
  let ms = sim.truth.machines.length * Math.max(0, to - from);
  for (const f of sim.truth.failures) {
    const down = Math.max(0, Math.min(to, f.repairTs ?? sim.truth.endTs) - Math.max(from, f.failureTs));
    ms -= down;
  }
  return ms / (30 * DAY);
}

function judge(
  name: string,
  list: Episode[],
  sim: Simulated,
  from: number,
  to: number,
  graceMs: number,
  lastVerdictTs: number | null,
  trainings: number,
): FleetVariantResult {
  const failures = sim.truth.failures.filter((f) => f.failureTs >= from && f.failureTs < to);
  const shares: number[] = [];
  let warned = 0;
  for (const f of failures) {
    // Warned: an alert still open at the failure (or closed just before it); the lead counts from the
    // first alert of that wear-out, when a technician was first told.
    if (!list.some((x) => announced(x, [f], graceMs))) continue;
    const first = list.find((x) => x.machine === f.machine && x.openTs <= f.failureTs && (x.closeTs ?? Infinity) >= f.onsetTs)!;
    warned++;
    shares.push(Math.min(1, (f.failureTs - first.openTs) / Math.max(1, f.failureTs - f.onsetTs)));
  }
  shares.sort((a, b) => a - b);
  const median = shares.length ? (shares[Math.floor((shares.length - 1) / 2)]! + shares[Math.ceil((shares.length - 1) / 2)]!) / 2 : null;
  const falseOnes = list.filter((e) => !announced(e, sim.truth.failures, graceMs) && !duringWear(e, sim.truth, graceMs));
  const months = machineMonths(sim, from, to);
  const after =
    lastVerdictTs !== null
      ? {
          falseAlarmsPerMachineMonth:
            falseOnes.filter((e) => e.openTs > lastVerdictTs).length / Math.max(1e-9, machineMonths(sim, lastVerdictTs, to)),
          machineMonths: machineMonths(sim, lastVerdictTs, to),
        }
      : null;
  return {
    name,
    failures: failures.length,
    warned,
    medianLeadShare: median,
    falseAlarms: falseOnes.length,
    machineMonths: months,
    falseAlarmsPerMachineMonth: falseOnes.length / Math.max(1e-9, months),
    afterVerdicts: after,
    lastVerdictTs,
    falseAlarmsFrom: (t) => falseOnes.filter((e) => e.openTs > t).length / Math.max(1e-9, machineMonths(sim, t, to)),
    trainings,
  };
}
