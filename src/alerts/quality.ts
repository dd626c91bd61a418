import { Float64Pool } from '../core/f64-pool.js';
import { SensorLayout } from '../core/sensor-layout.js';
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
  /** A sensor's engineering range from its own metadata (Sparkplug engLow/engHigh), when no configured range applies. */
  engineeringRange?: (machine: string, sensor: string) => { low?: number; high?: number } | undefined;
}

export type QualityKind = Exclude<AlertKind, 'failure_risk' | 'machines_silent' | 'machine_offline'>;

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
// The three per-sensor conditions share one number with the repeat count:
// stale + 3 × flat + 9 × range + 27 × repeats (so each state reads the same whatever the count).
const STALE = 1;
const FLAT = 3;
const RANGE = 9;
const state = (packed: number, unit: number) => Math.floor(packed / unit) % 3;
const withState = (packed: number, unit: number, s: number) => packed + (s - state(packed, unit)) * unit;
const REPEAT = 27;
const repeats = (packed: number) => Math.floor(packed / REPEAT);

// One block of numbers per machine (in a shared pool): a header, then per sensor [seen at, value, unchanged since, states and repeats].
const LAST_SEEN = 0;
const FIRST_LIVE_TS = 1;
const MACHINE_STATE = 2;
const HEADER = 3;
const SEEN_AT = 0;
const VALUE = 1;
const UNCHANGED_SINCE = 2;
const STATES = 3;
const STRIDE = 4;

type Range = { sensor: string; min?: number; max?: number; machines?: RegExp };
const NO_RANGES: Array<Range | undefined> = [];

interface MachineTrack {
  ref: MachineRef;
  layout: SensorLayout;
  /** Its block: handle and length in the pool, and where it lies (the slab and the offset in it). */
  h: number;
  length: number;
  d: Float64Array;
  o: number;
  /** The range rule that applies to each sensor of this machine (the first that matches); shared and empty when none does. */
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
  private readonly pool = new Float64Pool();
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
      for (const _ in sample.values) this.stats.backfillReadings++;
      return;
    }
    let m = this.machines.get(sample.machine.machine);
    if (!m) {
      if (this.fleet && !this.fleet.has(sample.machine.machine)) return;
      m = this.track(sample.machine, sample.ts, receivedAt);
    }
    const max = this.o.maxSensorsPerMachine ?? 1000;
    for (const name in sample.values) if (m.layout.indexOf(name) === undefined && m.layout.width < max) this.addSensor(m, name);
    if (HEADER + m.layout.width * STRIDE > m.length || m.h < 0) this.resize(m);
    const { d, o } = m;
    d[o + LAST_SEEN] = receivedAt;
    if (sample.ts < d[o + FIRST_LIVE_TS]!) d[o + FIRST_LIVE_TS] = sample.ts;
    for (const name in sample.values) {
      const i = m.layout.indexOf(name);
      if (i === undefined) {
        this.stats.untrackedSensorValues++;
        continue;
      }
      const at = o + HEADER + i * STRIDE;
      const value = sample.values[name]!;
      d[at + SEEN_AT] = receivedAt;
      if (value === d[at + VALUE]) d[at + STATES]! += REPEAT;
      else {
        d[at + VALUE] = value;
        d[at + UNCHANGED_SINCE] = receivedAt;
        d[at + STATES] = d[at + STATES]! % REPEAT;
      }
    }
  }

  /** A new machine; its block is made once its first reading's sensors are known (at their full size). */
  private track(ref: MachineRef, ts: number, receivedAt: number): MachineTrack {
    const m: MachineTrack = {
      ref,
      layout: this.layouts,
      h: -1,
      length: HEADER,
      d: Float64Array.of(receivedAt, ts, UNKNOWN),
      o: 0,
      ranges: NO_RANGES,
    };
    this.machines.set(ref.machine, m);
    return m;
  }

  private addSensor(m: MachineTrack, name: string): void {
    m.layout = m.layout.with(name);
    const rule = this.ranges.find((r) => r.sensor === name && (!r.machines || r.machines.test(m.ref.machine))) ?? this.ownRange(m, name);
    if (rule) {
      if (m.ranges === NO_RANGES) m.ranges = [];
      m.ranges[m.layout.width - 1] = rule;
    }
  }

  private ownRange(m: MachineTrack, name: string): Range | undefined {
    const r = this.o.engineeringRange?.(m.ref.machine, name);
    if (!r || (r.low === undefined && r.high === undefined)) return undefined;
    return { sensor: name, min: r.low, max: r.high, machines: undefined };
  }

  /** Room for every sensor of the layout; a new sensor starts with no reading (NaN: its first value is a change). */
  private resize(m: MachineTrack): void {
    const length = HEADER + m.layout.width * STRIDE;
    const h = this.pool.alloc(length);
    const d = this.pool.slab(h);
    const o = this.pool.offset(h);
    d.set(m.d.subarray(m.o, m.o + m.length), o);
    for (let at = o + m.length; at < o + length; at += STRIDE) d[at + VALUE] = NaN;
    if (m.h >= 0) this.pool.release(m.h, m.length);
    Object.assign(m, { h, length, d, o });
  }

  /**
   * The data time of the machine's first live reading since the daemon started watching it, or null
   * if it sent none: a failure stamped after it happened while the machine was being watched.
   */
  liveSince(machine: string): number | null {
    const m = this.machines.get(machine);
    return m ? m.d[m.o + FIRST_LIVE_TS]! : null;
  }

  /** Machines whose history should not raise "stale" after a restart until they are seen again. */
  forget(machine: string): void {
    const m = this.machines.get(machine);
    if (!m) return;
    if (m.d[m.o + MACHINE_STATE] === ACTIVE) this.stale--;
    if (m.h >= 0) this.pool.release(m.h, m.length);
    this.machines.delete(machine);
  }

  /** Machines silent for staleAfter as of the last check. */
  staleMachines(): MachineRef[] {
    const out: MachineRef[] = [];
    for (const m of this.machines.values()) if (m.d[m.o + MACHINE_STATE] === ACTIVE) out.push(m.ref);
    return out;
  }

  /**
   * Judges every condition as of `now` and hands `changed` each one whose state changed since the
   * last check. A condition not judged before (a machine first seen since start) is reported when
   * active, or when `hasOpenAlert` says the machine has an alert that its clearing would resolve.
   */
  check(now: number, changed: (c: QualityCondition) => void, hasOpenAlert: (machine: string) => boolean = () => false): QualitySummary {
    for (;;) {
      const summary = this.checkSome(now, changed, hasOpenAlert, Infinity);
      if (summary) return summary;
    }
  }

  /** A pass in progress: where it is in the fleet, and what it has seen so far. */
  private pass: { it: Iterator<MachineTrack>; now: number; silentSince: number | null } | null = null;

  /**
   * Like `check`, a pass over the fleet, but at most `budget` machines per call, so that a fleet of
   * tens of thousands is checked in slices between other work; returns the summary once the pass is
   * complete, else null. Every machine of a pass is judged at the pass's `now`.
   */
  checkSome(
    now: number,
    changed: (c: QualityCondition) => void,
    hasOpenAlert: (machine: string) => boolean,
    budget: number,
  ): QualitySummary | null {
    const o = this.o;
    this.pass ??= { it: this.machines.values(), now, silentSince: null };
    const pass = this.pass;
    now = pass.now;
    for (let n = 0; n < budget; n++) {
      const next = pass.it.next();
      if (next.done) {
        this.pass = null;
        return { machines: this.machines.size, staleMachines: this.stale, silentSince: pass.silentSince };
      }
      const m = next.value;
      let open: boolean | undefined;
      const report = (before: number, active: boolean) =>
        before === UNKNOWN ? active || (open ??= hasOpenAlert(m.ref.machine)) : before !== (active ? ACTIVE : CLEAR);
      const { d, o: at } = m;
      const lastSeen = d[at + LAST_SEEN]!;
      const silentMs = now - lastSeen;
      const machineStale = silentMs >= o.staleAfterMs;
      if (machineStale && (pass.silentSince === null || lastSeen < pass.silentSince)) pass.silentSince = lastSeen;
      if (report(d[at + MACHINE_STATE]!, machineStale)) {
        const since = new Date(lastSeen).toISOString();
        changed({
          machine: m.ref,
          kind: 'machine_stale',
          subject: '',
          active: machineStale,
          message: machineStale ? `no data from ${m.ref.machine} since ${since}` : `${m.ref.machine} is sending again`,
          details: { lastSeenAt: since, silentMs },
        });
      }
      if (machineStale !== (d[at + MACHINE_STATE] === ACTIVE)) this.stale += machineStale ? 1 : -1;
      d[at + MACHINE_STATE] = machineStale ? ACTIVE : CLEAR;
      // A silent machine is one alert, not one per sensor; its sensor alerts stay as they were.
      if (machineStale) continue;
      const names = m.layout.names;
      for (let i = 0; i < names.length && HEADER + i * STRIDE < m.length; i++) this.checkSensor(m, i, names[i]!, now, report, changed);
    }
    return null;
  }

  private checkSensor(
    m: MachineTrack,
    i: number,
    sensor: string,
    now: number,
    report: (before: number, active: boolean) => boolean,
    changed: (c: QualityCondition) => void,
  ): void {
    const o = this.o;
    const d = m.d;
    const at = m.o + HEADER + i * STRIDE;
    const seenAt = d[at + SEEN_AT]!;
    const silentMs = now - seenAt;
    const sensorStale = silentMs >= o.sensorStaleAfterMs;
    if (report(state(d[at + STATES]!, STALE), sensorStale)) {
      const since = new Date(seenAt).toISOString();
      changed({
        machine: m.ref,
        kind: 'sensor_stale',
        subject: sensor,
        active: sensorStale,
        message: sensorStale
          ? `sensor ${sensor} of ${m.ref.machine} silent since ${since}`
          : `sensor ${sensor} of ${m.ref.machine} reports again`,
        details: { sensor, lastSeenAt: since, silentMs },
      });
    }
    d[at + STATES] = withState(d[at + STATES]!, STALE, sensorStale ? ACTIVE : CLEAR);
    // Likewise a silent sensor: whether it is stuck is unknown until it reports again.
    if (sensorStale) return;
    const value = d[at + VALUE]!;
    const unchangedSince = d[at + UNCHANGED_SINCE]!;
    const flatMs = seenAt - unchangedSince;
    const flat = repeats(d[at + STATES]!) + 1 >= o.flatlineMinReadings && flatMs >= o.flatlineAfterMs;
    if (report(state(d[at + STATES]!, FLAT), flat)) {
      changed({
        machine: m.ref,
        kind: 'flatline',
        subject: sensor,
        active: flat,
        message: flat
          ? `sensor ${sensor} of ${m.ref.machine} stuck at ${value} since ${new Date(unchangedSince).toISOString()}`
          : `sensor ${sensor} of ${m.ref.machine} varies again`,
        details: { sensor, value, readings: repeats(d[at + STATES]!) + 1, sinceMs: flatMs },
      });
    }
    d[at + STATES] = withState(d[at + STATES]!, FLAT, flat ? ACTIVE : CLEAR);
    const r = m.ranges[i];
    if (!r) return;
    const low = r.min !== undefined && value < r.min;
    const high = r.max !== undefined && value > r.max;
    if (report(state(d[at + STATES]!, RANGE), low || high)) {
      changed({
        machine: m.ref,
        kind: 'out_of_range',
        subject: sensor,
        active: low || high,
        message:
          low || high
            ? `sensor ${sensor} of ${m.ref.machine} at ${value}, ${low ? `below ${r.min}` : `above ${r.max}`}`
            : `sensor ${sensor} of ${m.ref.machine} back in range`,
        details: { sensor, value, min: r.min ?? null, max: r.max ?? null },
      });
    }
    d[at + STATES] = withState(d[at + STATES]!, RANGE, low || high ? ACTIVE : CLEAR);
  }
}
