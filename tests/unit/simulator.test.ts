import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { MessageSink } from '../../simulators/core/sink.js';
import { createKind } from '../../simulators/fleet/kinds.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { resolveScenario, parseRate, machinesOfEachKind } from '../../simulators/fleet/scenario.js';

const START = '2026-01-01T00:00:00Z';

class MemorySink implements MessageSink {
  readonly lines: string[] = [];
  readonly messages: Array<{ topic: string; payload: { ts: number; type?: string; component?: string; values?: Record<string, number> } }> =
    [];
  publish(topic: string, payload: string): void {
    this.lines.push(`${topic} ${payload}`);
    this.messages.push({ topic, payload: JSON.parse(payload) });
  }
  async close() {
    return { published: this.lines.length, acked: this.lines.length, failed: 0 };
  }
}

async function simulate(input: Record<string, unknown>) {
  const sink = new MemorySink();
  const summary = await runSimulation(resolveScenario({ start: START, ...input }, 'test'), { sink, speed: 'max', now: 0 });
  return { sink, summary };
}

describe('fleet simulator', () => {
  it('is reproducible bit for bit from its seed and start', async () => {
    const a = await simulate({ seed: 7, duration: '2d', rate: '1/min' });
    const b = await simulate({ seed: 7, duration: '2d', rate: '1/min' });
    const c = await simulate({ seed: 8, duration: '2d', rate: '1/min' });
    expect(a.sink.lines.length).toBeGreaterThan(10 * 2 * 1440 * 0.9);
    expect(a.sink.lines.join('\n')).toBe(b.sink.lines.join('\n'));
    expect(c.sink.lines.join('\n')).not.toBe(a.sink.lines.join('\n'));
    expect(a.summary.truth).toEqual(b.summary.truth);
  });

  it('publishes failures exactly at the ground-truth times, stops during downtime, repairs after it', async () => {
    const { sink, summary } = await simulate({
      seed: 3,
      duration: '30d',
      rate: '12/h',
      downtime: '6h',
      machines: [
        { kind: 'pump', count: 3, onsetDays: 2, wearDays: 2 },
        { kind: 'gearbox', count: 2, onsetDays: 2, wearDays: 2 },
      ],
    });
    const truth = summary.truth;
    expect(truth.failures.length).toBeGreaterThanOrEqual(10);
    const failureEvents = sink.messages.filter((m) => m.payload.type === 'failure');
    const machineOf = (topic: string) => topic.split('/')[3];
    expect(failureEvents.map((m) => [machineOf(m.topic), m.payload.ts, m.payload.component])).toEqual(
      truth.failures
        .map((f) => [f.machine, f.failureTs, f.component])
        .sort((x, y) => (x[1] as number) - (y[1] as number) || String(x[0]).localeCompare(String(y[0]))),
    );
    for (const f of truth.failures) {
      expect(f.onsetTs).toBeLessThan(f.failureTs);
      const telemetryDuringDowntime = sink.messages.filter(
        (m) =>
          machineOf(m.topic) === f.machine && m.payload.values && m.payload.ts >= f.failureTs && m.payload.ts < (f.repairTs ?? Infinity),
      );
      expect(telemetryDuringDowntime).toEqual([]);
      if (f.repairTs !== null) {
        expect(f.repairTs - f.failureTs).toBe(6 * 3_600_000);
        expect(
          sink.messages.some((m) => machineOf(m.topic) === f.machine && m.payload.type === 'repair' && m.payload.ts === f.repairTs),
        ).toBe(true);
      }
    }
  });

  it('sensor faults corrupt readings but never raise a failure', async () => {
    const { sink, summary } = await simulate({
      seed: 5,
      duration: '10d',
      rate: '12/h',
      machines: [{ kind: 'motor', count: 4, onsetDays: 1e6, faultsPerDay: 20 }],
    });
    expect(summary.truth.failures).toEqual([]);
    expect(sink.messages.filter((m) => m.payload.type === 'failure')).toEqual([]);
    const faults = summary.truth.sensorFaults;
    expect(faults.length).toBeGreaterThan(300);
    expect(new Set(faults.map((f) => f.type))).toEqual(new Set(['dropout', 'stuck', 'spike']));
    const dropout = faults.find((f) => f.type === 'dropout' && f.toTs - f.fromTs > 30 * 60_000)!;
    const during = sink.messages.find(
      (m) =>
        m.topic.includes(`/${dropout.machine}/`) &&
        m.payload.values &&
        m.payload.ts > dropout.fromTs + 5 * 60_000 &&
        m.payload.ts < dropout.toTs - 5 * 60_000,
    );
    expect(during?.payload.values?.[dropout.sensor]).toBeUndefined();
  });

  it('preventive maintenance sets wear back and prevents failures', async () => {
    const base = { seed: 11, duration: '40d', rate: '12/h', machines: [{ kind: 'gearbox', count: 5, onsetDays: 1, wearDays: 4 }] };
    const without = await simulate(base);
    const withMaintenance = await simulate({
      ...base,
      machines: [{ kind: 'gearbox', count: 5, onsetDays: 1, wearDays: 4, maintenanceEveryDays: 2 }],
    });
    expect(withMaintenance.summary.truth.maintenance.length).toBeGreaterThan(50);
    expect(withMaintenance.sink.messages.filter((m) => m.payload.type === 'maintenance').length).toBe(
      withMaintenance.summary.truth.maintenance.length,
    );
    expect(withMaintenance.summary.failures).toBeLessThan(without.summary.failures / 2);
  });

  it('emits every contract-valid payload: JSON numbers only, 6 to 14 sensors per kind', async () => {
    const { sink } = await simulate({ seed: 2, duration: '1d', rate: '1/min' });
    for (const m of sink.messages) {
      if (!m.payload.values) continue;
      for (const v of Object.values(m.payload.values)) expect(Number.isFinite(v)).toBe(true);
    }
    for (const kind of ['pump', 'motor', 'gearbox'] as const) {
      const n = createKind(kind).sensors.length;
      expect(n).toBeGreaterThanOrEqual(6);
      expect(n).toBeLessThanOrEqual(14);
    }
  });
});

describe('machine physics', () => {
  const measure = (kind: 'pump' | 'motor' | 'gearbox', load: number, wear: Record<string, number>) => {
    const model = createKind(kind);
    const rng = new Rng(1);
    let v: Record<string, number> = {};
    // Let thermal lags settle at this operating point.
    for (let i = 0; i < 600; i++) v = model.measure({ load, ambient: 20, wear }, 60, rng);
    return v;
  };

  it('wear shows in several coupled sensors', () => {
    const healthy = measure('pump', 0.7, { bearing: 0, impeller: 0, seal: 0 });
    const worn = measure('pump', 0.7, { bearing: 0.8, impeller: 0, seal: 0 });
    expect(worn.vib_rms_mms!).toBeGreaterThan(healthy.vib_rms_mms! * 1.8);
    expect(worn.vib_kurtosis!).toBeGreaterThan(healthy.vib_kurtosis! + 2);
    expect(worn.bearing_temp_c!).toBeGreaterThan(healthy.bearing_temp_c! + 15);
    expect(worn.power_kw!).toBeGreaterThan(healthy.power_kw!);
  });

  it('load moves the same sensors, so one raw threshold cannot separate healthy from worn', () => {
    const healthyFullLoad = measure('motor', 0.95, { bearing: 0, winding: 0 });
    const wornLowLoad = measure('motor', 0.35, { bearing: 0, winding: 0.6 });
    expect(healthyFullLoad.winding_temp_c!).toBeGreaterThan(wornLowLoad.winding_temp_c!);
    expect(healthyFullLoad.current_a!).toBeGreaterThan(wornLowLoad.current_a!);
    // …while the wear-specific signature still tells them apart.
    expect(wornLowLoad.current_imbalance_pct!).toBeGreaterThan(healthyFullLoad.current_imbalance_pct! + 1);
  });
});

describe('scenarios', () => {
  it('parses rates', () => {
    expect(parseRate('1/min')).toBeCloseTo(1 / 60);
    expect(parseRate('6/h')).toBeCloseTo(6 / 3600);
    expect(parseRate('2')).toBe(2);
    expect(() => parseRate('fast')).toThrow(/not a rate/);
  });

  it('names the bad key', () => {
    expect(() => resolveScenario({ machines: [{ kind: 'turbine' }] }, 'x.yaml')).toThrow(/machines\.0\.kind/);
    expect(() => resolveScenario({ durations: '1d' }, 'x.yaml')).toThrow(/durations: unknown setting/);
    expect(() => resolveScenario({ rate: '5000/s' }, 'x.yaml')).toThrow(/at most 1000/);
  });

  it('spreads --machines over the kinds', () => {
    expect(machinesOfEachKind(7).map((g) => [g.kind, g.count])).toEqual([
      ['pump', 3],
      ['motor', 2],
      ['gearbox', 2],
    ]);
  });
});

describe('seeded generator', () => {
  it('shuffles in place into a permutation, the same one for the same seed', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = new Rng(9).shuffle([...items]);
    expect(new Rng(9).shuffle([...items])).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(a).not.toEqual(items);
    expect(new Rng(10).shuffle([...items])).not.toEqual(a);
  });
});
