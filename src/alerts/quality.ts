import { SensorLayout, widen } from '../core/sensor-layout.js';
import type { FleetMembership, MachineRef, Sample } from '../core/types.js';
import type { AlertKind } from './types.js';

export interface QualityOptions {
  staleAfterMs: number;
  sensorStaleAfterMs: number;
  flatlineAfterMs: number;
  flatlineMinReadings: number;
  ranges: Array<{ sensor: string; min?: number; max?: number; machines?: string }>;
  /** Readings stamped more than this before they arrived are backfill: not watched (see isBackfill). */
  backfillAgeMs: number;
  /** Sensors watched per machine. */
  maxSensorsPerMachine?: number;
}

export type QualityKind = Exclude<AlertKind, 'failure_risk' | 'machines_silent'>;

/** A data-quality condition of one machine (and sensor) that changed at a check: now active, or cleared. */
export interface QualityCondition {
  machine: MachineRef;
  kind: QualityKind;
  subject: string;
  active: boolean;
  message: string;
  details: Record<string, unknown>;
}

/** What a check saw of the whole fleet, for summarising mass events. */
export interface QualitySummary {
  machines: number;
  staleMachines: number;
  /** Arrival time of the last reading of the machine silent longest (null when none is). */
  silentSince: number | null;
}

/** Reading of data stamped more than `ageMs` before it arrived: history, not the machine's present. */
export function isBackfill(ts: number, receivedAt: number, ageMs: number): boolean {
  return receivedAt - ts > ageMs;
}

// Condition states: not yet judged since tracking began (after a restart an alert may be open), or judged.
const UNKNOWN = 0;
const CLEAR = 1;
const ACTIVE = 2;
const STALE = 0;
const FLAT = 1;
const RANGE = 2;
const CONDITIONS_PER_SENSOR = 3;

type Range = { sensor: string; min?: number; max?: number; machines?: RegExp };

interface MachineTrack {
  ref: MachineRef;
  layout: SensorLayout;
  /** Arrival time of its last live reading, and the data time of its first. */
  lastSeen: number;
  firstLiveTs: number;
  machineState: number;
  /** Per sensor, indexed by the layout. */
  seenAt: Float64Array<ArrayBuffer>;
  value: Float64Array<ArrayBuffer>;
  /** Since when (arrival time) the value has not changed, and how many readings repeated it. */
  unchangedSince: Float64Array<ArrayBuffer>;
  repeats: Float64Array<ArrayBuffer>;
  states: Uint8Array;
  /** The range rule that applies to each sensor of this machine (the first that matches), or none. */
  ranges: Array<Range | undefined>;
}

/**
 * Tracks arrival times and values per machine and sensor; `check` reports the conditions that changed.
 * Times are arrival times on the daemon's clock, not the readings' own timestamps, so replayed data
 * is judged by whether it is still arriving — and backfill (readings far older than their arrival:
 * a bridge catching up, history replayed into a live daemon) is not watched at all: it says nothing
 * about whether a machine is sending now. State per machine is a few typed arrays indexed by a
 * shared sensor layout, and only changes cost work at a check: a fleet of tens of thousands stays cheap.
 */
export class QualityMonitor {
  private readonly machines = new Map<string, MachineTrack>();
  private readonly ranges: Range[];
  private readonly layouts = SensorLayout.root();
  private stale = 0;
  readonly stats = { backfillReadings: 0, untrackedSensorValues: 0 };

  constructor(
    private readonly o: QualityOptions,
    private readonly fleet?: FleetMembership,
  ) {
    this.ranges = o.ranges.map((r) => ({ ...r, machines: r.machines ? new RegExp(r.machines) : undefined }));
  }

  observe(sample: Sample, receivedAt: number): void {
    if (isBackfill(sample.ts, receivedAt, this.o.backfillAgeMs)) {
      this.stats.backfillReadings++;
      return;
    }
    let m = this.machines.get(sample.machine.machine);
    if (!m) {
      if (this.fleet && !this.fleet.has(sample.machine.machine)) return;
      m = this.track(sample.machine, sample.ts, receivedAt);
    }
    m.lastSeen = receivedAt;
    if (sample.ts < m.firstLiveTs) m.firstLiveTs = sample.ts;
    for (const name in sample.values) {
      let i = m.layout.indexOf(name);
      if (i === undefined) {
        if (m.layout.width >= (this.o.maxSensorsPerMachine ?? 1000)) {
          this.stats.untrackedSensorValues++;
          continue;
        }
        i = this.addSensor(m, name);
      }
      const value = sample.values[name]!;
      m.seenAt[i] = receivedAt;
      if (value === m.value[i] && m.repeats[i]! >= 0) m.repeats[i]!++;
      else {
        m.value[i] = value;
        m.unchangedSince[i] = receivedAt;
        m.repeats[i] = 0;
      }
    }
  }

  private track(ref: MachineRef, ts: number, receivedAt: number): MachineTrack {
    const m: MachineTrack = {
      ref,
      layout: this.layouts,
      lastSeen: receivedAt,
      firstLiveTs: ts,
      machineState: UNKNOWN,
      seenAt: new Float64Array(0),
      value: new Float64Array(0),
      unchangedSince: new Float64Array(0),
      repeats: new Float64Array(0),
      states: new Uint8Array(0),
      ranges: [],
    };
    this.machines.set(ref.machine, m);
    return m;
  }

  private addSensor(m: MachineTrack, name: string): number {
    m.layout = m.layout.with(name);
    const i = m.layout.width - 1;
    m.seenAt = widen(m.seenAt, i + 1, 0);
    m.value = widen(m.value, i + 1, NaN);
    m.unchangedSince = widen(m.unchangedSince, i + 1, 0);
    // -1: no reading yet, so the first one is a change, not a repeat.
    m.repeats = widen(m.repeats, i + 1, -1);
    if (m.states.length < m.seenAt.length * CONDITIONS_PER_SENSOR) {
      const states = new Uint8Array(m.seenAt.length * CONDITIONS_PER_SENSOR);
      states.set(m.states);
      m.states = states;
    }
    m.ranges[i] = this.ranges.find((r) => r.sensor === name && (!r.machines || r.machines.test(m.ref.machine)));
    return i;
  }

  /**
   * The data time of the machine's first live reading since the daemon started watching it, or null
   * if it sent none: a failure stamped after it happened while the machine was being watched.
   */
  liveSince(machine: string): number | null {
    return this.machines.get(machine)?.firstLiveTs ?? null;
  }

  /** Machines whose history should not raise "stale" after a restart until they are seen again. */
  forget(machine: string): void {
    const m = this.machines.get(machine);
    if (m?.machineState === ACTIVE) this.stale--;
    this.machines.delete(machine);
  }

  /** Machines silent for staleAfter as of the last check. */
  staleMachines(): MachineRef[] {
    const out: MachineRef[] = [];
    for (const m of this.machines.values()) if (m.machineState === ACTIVE) out.push(m.ref);
    return out;
  }

  /**
   * Judges every condition as of `now` and hands `changed` each one whose state changed since the
   * last check. A condition not judged before (a machine first seen since start) is reported when
   * active, or when `hasOpenAlert` says the machine has an alert that its clearing would resolve.
   */
  check(now: number, changed: (c: QualityCondition) => void, hasOpenAlert: (machine: string) => boolean = () => false): QualitySummary {
    const o = this.o;
    let silentSince: number | null = null;
    for (const m of this.machines.values()) {
      let open: boolean | undefined;
      const report = (before: number, active: boolean) => (before === UNKNOWN ? active || (open ??= hasOpenAlert(m.ref.machine)) : before !== (active ? ACTIVE : CLEAR));
      const silentMs = now - m.lastSeen;
      const machineStale = silentMs >= o.staleAfterMs;
      if (machineStale && (silentSince === null || m.lastSeen < silentSince)) silentSince = m.lastSeen;
      if (report(m.machineState, machineStale)) {
        const since = new Date(m.lastSeen).toISOString();
        changed({
          machine: m.ref,
          kind: 'machine_stale',
          subject: '',
          active: machineStale,
          message: machineStale ? `no data from ${m.ref.machine} since ${since}` : `${m.ref.machine} is sending again`,
          details: { lastSeenAt: since, silentMs },
        });
      }
      if (machineStale !== (m.machineState === ACTIVE)) this.stale += machineStale ? 1 : -1;
      m.machineState = machineStale ? ACTIVE : CLEAR;
      // A silent machine is one alert, not one per sensor; its sensor alerts stay as they were.
      if (machineStale) continue;
      const names = m.layout.names;
      for (let i = 0; i < names.length; i++) this.checkSensor(m, i, names[i]!, now, report, changed);
    }
    return { machines: this.machines.size, staleMachines: this.stale, silentSince };
  }

  private checkSensor(m: MachineTrack, i: number, sensor: string, now: number, report: (before: number, active: boolean) => boolean, changed: (c: QualityCondition) => void): void {
    const o = this.o;
    const at = i * CONDITIONS_PER_SENSOR;
    const seenAt = m.seenAt[i]!;
    const silentMs = now - seenAt;
    const sensorStale = silentMs >= o.sensorStaleAfterMs;
    if (report(m.states[at + STALE]!, sensorStale)) {
      const since = new Date(seenAt).toISOString();
      changed({
        machine: m.ref,
        kind: 'sensor_stale',
        subject: sensor,
        active: sensorStale,
        message: sensorStale ? `sensor ${sensor} of ${m.ref.machine} silent since ${since}` : `sensor ${sensor} of ${m.ref.machine} reports again`,
        details: { sensor, lastSeenAt: since, silentMs },
      });
    }
    m.states[at + STALE] = sensorStale ? ACTIVE : CLEAR;
    // Likewise a silent sensor: whether it is stuck is unknown until it reports again.
    if (sensorStale) return;
    const value = m.value[i]!;
    const flatMs = seenAt - m.unchangedSince[i]!;
    const flat = m.repeats[i]! + 1 >= o.flatlineMinReadings && flatMs >= o.flatlineAfterMs;
    if (report(m.states[at + FLAT]!, flat)) {
      changed({
        machine: m.ref,
        kind: 'flatline',
        subject: sensor,
        active: flat,
        message: flat ? `sensor ${sensor} of ${m.ref.machine} stuck at ${value} since ${new Date(m.unchangedSince[i]!).toISOString()}` : `sensor ${sensor} of ${m.ref.machine} varies again`,
        details: { sensor, value, readings: m.repeats[i]! + 1, sinceMs: flatMs },
      });
    }
    m.states[at + FLAT] = flat ? ACTIVE : CLEAR;
    const r = m.ranges[i];
    if (!r) return;
    const low = r.min !== undefined && value < r.min;
    const high = r.max !== undefined && value > r.max;
    if (report(m.states[at + RANGE]!, low || high)) {
      changed({
        machine: m.ref,
        kind: 'out_of_range',
        subject: sensor,
        active: low || high,
        message: low || high ? `sensor ${sensor} of ${m.ref.machine} at ${value}, ${low ? `below ${r.min}` : `above ${r.max}`}` : `sensor ${sensor} of ${m.ref.machine} back in range`,
        details: { sensor, value, min: r.min ?? null, max: r.max ?? null },
      });
    }
    m.states[at + RANGE] = low || high ? ACTIVE : CLEAR;
  }
}
