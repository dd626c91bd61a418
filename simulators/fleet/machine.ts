import type { MachineEventType, MachineRef } from '../../src/core/types.js';
import type { Rng } from '../../src/core/random.js';
import { createKind, type KindModel, type KindName } from './kinds.js';
import type { MachineGroupSpec } from './scenario.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Wear grows exponentially from EPS to 1 between onset and failure. */
const EPS = 0.02;
const LOAD_LEVELS = [0.35, 0.55, 0.75, 0.95];

export interface SimEvent {
  ts: number;
  type: MachineEventType;
  component?: string;
  note?: string;
}

export interface FailureTruth {
  machine: string;
  component: string;
  onsetTs: number;
  failureTs: number;
  /** null when the simulation ended during the downtime. */
  repairTs: number | null;
}

export interface SensorFaultTruth {
  machine: string;
  sensor: string;
  type: 'dropout' | 'stuck' | 'spike';
  fromTs: number;
  toTs: number;
}

export interface TruthRecorder {
  failure(f: FailureTruth): void;
  maintenance(m: { machine: string; ts: number; endTs: number }): void;
  sensorFault(f: SensorFaultTruth): void;
}

interface Component {
  name: string;
  wear: number;
  onsetAt: number;
  /** Rate constant for this run: wear reaches 1 after about wearDays at average load. */
  rate: number;
  /** When wear began, once it has. */
  onsetTs: number | null;
}

interface ActiveFault {
  sensor: string;
  type: 'dropout' | 'stuck' | 'spike';
  until: number;
  stuckValue?: number;
}

/**
 * One simulated machine: a hidden wear state per component with a random onset and an accelerating
 * (exponential, load-dependent) wear curve; operating regimes that change load; sensor faults that
 * corrupt readings without harming the machine; failure → downtime → repair; preventive maintenance.
 */
export class SimMachine {
  readonly ref: MachineRef;
  readonly kind: KindName;
  readonly sensors: readonly string[];
  private readonly model: KindModel;
  private readonly components: Component[];
  private state: 'running' | 'down' | 'maintenance' = 'running';
  private resumeAt = 0;
  private pendingFailure: Omit<FailureTruth, 'repairTs'> | null = null;
  private load: number;
  private loadTarget: number;
  private nextRegimeAt: number;
  private nextFaultAt: number;
  private nextMaintenanceAt: number;
  private readonly faults: ActiveFault[] = [];
  private readonly lastValues: Record<string, number> = {};

  constructor(
    name: string,
    site: string,
    private readonly spec: MachineGroupSpec,
    private readonly rng: Rng,
    start: number,
    private readonly downtimeMs: number,
    private readonly maintenanceDowntimeMs: number,
    private readonly truth: TruthRecorder,
  ) {
    this.ref = { site, line: spec.line, machine: name };
    this.kind = spec.kind;
    this.model = createKind(spec.kind);
    this.sensors = this.model.sensors;
    this.components = this.model.components.map((c) => ({ name: c, wear: 0, onsetAt: 0, rate: 0, onsetTs: null }));
    this.renew(start);
    this.loadTarget = this.load = rng.pick(LOAD_LEVELS);
    this.nextRegimeAt = start + rng.exponential(spec.regimeHours * HOUR);
    this.nextFaultAt = spec.faultsPerDay > 0 ? start + rng.exponential(DAY / spec.faultsPerDay) : Infinity;
    this.nextMaintenanceAt = spec.maintenanceEveryDays > 0 ? start + spec.maintenanceEveryDays * DAY * rng.uniform(0.5, 1.1) : Infinity;
  }

  /** A new (or repaired) machine: no wear, fresh onset times and wear rates for every component. */
  private renew(t: number): void {
    for (const c of this.components) {
      c.wear = 0;
      c.onsetTs = null;
      c.onsetAt = t + this.rng.exponential(this.spec.onsetDays * DAY);
      const wearMs = this.rng.logNormal(this.spec.wearDays * DAY, this.spec.wearSpread);
      c.rate = Math.log((1 + EPS) / EPS) / wearMs;
    }
    this.model.coolDown();
  }

  /** Records what is still open when the simulation ends: a failure awaiting repair, wear under way. */
  finish(): Array<{ machine: string; component: string; onsetTs: number; wearAtEnd: number }> {
    if (this.pendingFailure) {
      this.truth.failure({ ...this.pendingFailure, repairTs: null });
      this.pendingFailure = null;
      return [];
    }
    return this.components
      .filter((c) => c.onsetTs !== null)
      .map((c) => ({ machine: this.ref.machine, component: c.name, onsetTs: c.onsetTs!, wearAtEnd: Math.round(c.wear * 1000) / 1000 }));
  }

  /** Wear of each component now; for tests and ground truth only (the stream never shows it). */
  wear(): Record<string, number> {
    return Object.fromEntries(this.components.map((c) => [c.name, c.wear]));
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Advances to time t (dt after the previous call); returns the telemetry values (if running) and events. */
  step(t: number, dtMs: number): { values: Record<string, number> | null; events: SimEvent[] } {
    const events: SimEvent[] = [];
    if (this.state !== 'running') {
      if (t < this.resumeAt) return { values: null, events };
      if (this.state === 'down') {
        events.push({ ts: this.resumeAt, type: 'repair', component: this.pendingFailure?.component, note: 'simulated repair' });
        this.truth.failure({ ...this.pendingFailure!, repairTs: this.resumeAt });
        this.pendingFailure = null;
        this.renew(this.resumeAt);
        this.nextMaintenanceAt = this.spec.maintenanceEveryDays > 0 ? this.resumeAt + this.spec.maintenanceEveryDays * DAY : Infinity;
      }
      this.state = 'running';
    }

    if (t >= this.nextMaintenanceAt) {
      // Preventive maintenance sets wear far back (not to new) and stops the machine briefly.
      for (const c of this.components) c.wear *= 0.1;
      this.state = 'maintenance';
      this.resumeAt = t + this.maintenanceDowntimeMs;
      this.nextMaintenanceAt = t + this.spec.maintenanceEveryDays * DAY * this.rng.uniform(0.9, 1.1);
      this.truth.maintenance({ machine: this.ref.machine, ts: t, endTs: this.resumeAt });
      this.model.coolDown();
      events.push({ ts: t, type: 'maintenance', note: 'scheduled maintenance' });
      return { values: null, events };
    }

    this.updateRegime(t, dtMs);
    const loadFactor = Math.pow((0.4 + this.load) / 1.1, 1.5);
    for (const c of this.components) {
      if (c.onsetTs === null && t >= c.onsetAt) {
        c.onsetTs = t;
        c.wear = Math.max(c.wear, EPS);
      }
      if (c.onsetTs !== null) c.wear += dtMs * c.rate * (c.wear + EPS) * loadFactor * Math.max(0, 1 + 0.2 * this.rng.normal());
    }
    const failed = this.components.filter((c) => c.wear >= 1).sort((a, b) => b.wear - a.wear)[0];
    if (failed) {
      this.state = 'down';
      this.resumeAt = t + this.downtimeMs;
      this.pendingFailure = { machine: this.ref.machine, component: failed.name, onsetTs: failed.onsetTs ?? t, failureTs: t };
      events.push({ ts: t, type: 'failure', component: failed.name, note: 'simulated failure' });
      return { values: null, events };
    }

    const ambient = 20 + 6 * Math.sin((2 * Math.PI * (t % DAY)) / DAY - 1.9);
    const truthValues = this.model.measure({ load: this.load, ambient, wear: this.wear() }, dtMs / 1000, this.rng);
    return { values: this.applySensorFaults(t, truthValues), events };
  }

  private updateRegime(t: number, dtMs: number): void {
    if (t >= this.nextRegimeAt) {
      this.loadTarget = Math.min(1, Math.max(0.2, this.rng.pick(LOAD_LEVELS) + this.rng.normal(0, 0.03)));
      this.nextRegimeAt = t + this.rng.exponential(this.spec.regimeHours * HOUR);
    }
    // Load ramps to its new level over minutes, not instantly.
    this.load += (this.loadTarget - this.load) * (1 - Math.exp(-dtMs / (10 * 60_000)));
  }

  private applySensorFaults(t: number, values: Record<string, number>): Record<string, number> {
    while (t >= this.nextFaultAt) {
      const sensor = this.rng.pick(this.sensors);
      const type = this.rng.pick(['dropout', 'stuck', 'spike'] as const);
      const until =
        type === 'spike' ? this.nextFaultAt : this.nextFaultAt + this.rng.exponential(type === 'dropout' ? 30 * 60_000 : 60 * 60_000);
      this.faults.push({ sensor, type, until, stuckValue: this.lastValues[sensor] ?? values[sensor] });
      this.truth.sensorFault({ machine: this.ref.machine, sensor, type, fromTs: this.nextFaultAt, toTs: until });
      this.nextFaultAt += this.rng.exponential(DAY / this.spec.faultsPerDay);
    }
    const out: Record<string, number> = {};
    for (const s of this.sensors) out[s] = round(values[s]!);
    for (let i = this.faults.length - 1; i >= 0; i--) {
      const f = this.faults[i]!;
      if (f.type === 'dropout') delete out[f.sensor];
      else if (f.type === 'stuck' && f.stuckValue !== undefined) out[f.sensor] = f.stuckValue;
      else if (f.type === 'spike') out[f.sensor] = round(values[f.sensor]! * this.rng.uniform(3, 6));
      if (t >= f.until) this.faults.splice(i, 1);
    }
    for (const s of this.sensors)
      if (out[s] !== undefined && !this.faults.some((f) => f.sensor === s && f.type === 'stuck')) this.lastValues[s] = out[s];
    return out;
  }
}

/** Four significant decimals: what a real transmitter's resolution looks like, and compact JSON. */
function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
