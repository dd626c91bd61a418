import { Rng } from '../../src/core/random.js';
import { SimMachine, type FailureTruth, type SensorFaultTruth, type SimEvent, type TruthRecorder } from './machine.js';
import type { Scenario } from './scenario.js';

export interface SimMessage {
  topic: string;
  /** The JSON payload as an object; sinks serialise it. */
  payload: { ts: number; values: Record<string, number> } | SimEvent;
}

export interface GroundTruth {
  seed: number;
  startTs: number;
  endTs: number;
  intervalMs: number;
  machines: Array<{ machine: string; kind: string; site: string; line: string; sensors: readonly string[] }>;
  failures: FailureTruth[];
  maintenance: Array<{ machine: string; ts: number; endTs: number }>;
  sensorFaults: SensorFaultTruth[];
  /** Wear under way when the simulation ended (no failure yet). */
  degradingAtEnd: Array<{ machine: string; component: string; onsetTs: number; wearAtEnd: number }>;
}

/** The simulated fleet: machines named `<kind>-NN`, stepped together through simulated time. */
export class Fleet {
  readonly machines: SimMachine[] = [];
  readonly truth: GroundTruth;
  private lastT: number;

  constructor(
    private readonly scenario: Scenario,
    readonly startTs: number,
  ) {
    const rng = new Rng(scenario.seed);
    this.lastT = startTs - scenario.intervalMs;
    this.truth = {
      seed: scenario.seed,
      startTs,
      endTs: startTs + scenario.durationMs,
      intervalMs: scenario.intervalMs,
      machines: [],
      failures: [],
      maintenance: [],
      sensorFaults: [],
      degradingAtEnd: [],
    };
    const recorder: TruthRecorder = {
      failure: (f) => this.truth.failures.push(f),
      maintenance: (m) => this.truth.maintenance.push(m),
      sensorFault: (f) => this.truth.sensorFaults.push(f),
    };
    const perKind = new Map<string, number>();
    for (const group of scenario.machines) {
      for (let i = 0; i < group.count; i++) {
        const n = (perKind.get(group.kind) ?? 0) + 1;
        perKind.set(group.kind, n);
        const name = `${group.kind}-${String(n).padStart(2, '0')}`;
        // Each machine draws from its own stream, so adding a machine does not change the others.
        const m = new SimMachine(
          name,
          scenario.site,
          group,
          rng.fork(),
          startTs,
          scenario.downtimeMs,
          scenario.maintenanceDowntimeMs,
          recorder,
        );
        this.machines.push(m);
        this.truth.machines.push({ machine: name, kind: group.kind, site: m.ref.site, line: m.ref.line, sensors: m.sensors });
      }
    }
  }

  private topic(m: SimMachine, kind: 'telemetry' | 'events'): string {
    return `${this.scenario.topicPrefix}/${m.ref.site}/${m.ref.line}/${m.ref.machine}/${kind}`;
  }

  /** Messages for simulated time t: one telemetry message per running machine, plus any events. */
  step(t: number): SimMessage[] {
    const dt = t - this.lastT;
    this.lastT = t;
    const out: SimMessage[] = [];
    for (const m of this.machines) {
      const { values, events } = m.step(t, dt);
      for (const e of events) out.push({ topic: this.topic(m, 'events'), payload: e });
      if (values) out.push({ topic: this.topic(m, 'telemetry'), payload: { ts: t, values } });
    }
    return out;
  }

  finish(endTs: number): GroundTruth {
    for (const m of this.machines) this.truth.degradingAtEnd.push(...m.finish());
    this.truth.endTs = endTs;
    return this.truth;
  }
}
