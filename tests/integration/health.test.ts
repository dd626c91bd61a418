import { afterAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import type { Daemon } from '../../src/main.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { startTestDaemon } from '../support/daemon.js';
import { waitUntil } from '../support/influx.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TOKEN = 'health-operator-token-123456';
let daemon: Daemon | null = null;
afterAll(async () => {
  await daemon?.stop();
});

/** Four pumps that never wear out, sending readings only: no failure event ever reaches the daemon. */
function healthyPumps(durationMs: number, startMs: number) {
  const base = resolveScenario(loadScenarioFile('simulators/scenarios/demo.yaml'), 'demo');
  const pumps = base.machines.filter((g) => g.kind === 'pump').map((g) => ({ ...g, onsetDays: 10_000, faultsPerDay: 0 }));
  return { ...base, machines: pumps, durationMs, startMs };
}

/** Telemetry only; pump-01's readings from `from` on as a fouled, hot-running pump would send them. */
function readingsOnly(sink: MqttSink, degrade: { machine: string; from: number } | null) {
  return {
    publish(topic: string, payload: string) {
      if (!topic.endsWith('/telemetry')) return;
      const msg = JSON.parse(payload) as { ts: number; values: Record<string, number> };
      if (degrade && topic.includes(`/${degrade.machine}/`) && msg.ts >= degrade.from) {
        const v = msg.values;
        if (v.bearing_temp_c !== undefined) v.bearing_temp_c += 25;
        if (v.vib_rms_mms !== undefined) v.vib_rms_mms *= 3;
        if (v.flow_m3h !== undefined) v.flow_m3h *= 0.8;
      }
      return sink.publish(topic, JSON.stringify(msg));
    },
    close: () => sink.close(),
  };
}

describe('health model from readings alone', () => {
  it('learns normal with no failure events, raises an anomaly alert on a degraded pump, and a normal verdict shapes the next model', async () => {
    ({ daemon } = await startTestDaemon({
      machines: [{ match: 'pump-*', kind: 'pump' }],
      ingest: { backfillAge: '3650d' },
      learning: { step: '10m', window: 24, stride: 2, horizon: 24, rulCap: 96, maxGapSteps: 3 },
      health: { minNormal: '12h', units: [16, 8], epochs: 4, patience: 2 },
      scoring: { interval: '200ms' },
      api: { anonymousRead: true, tokens: [{ name: 'ana', role: 'operator', sha256: hashToken(TOKEN) }] },
    }));
    const d = daemon!;
    await waitUntil(() => d.readiness().ready, 15_000, 'daemon ready');
    const api = async <T>(p: string, init?: RequestInit) => {
      const res = await fetch(`${d.httpUrl}/api/v1${p}`, init);
      expect(res.status, `${p}: ${res.status}`).toBeLessThan(300);
      return (await res.json()) as T;
    };
    const post = <T>(p: string, body: unknown) =>
      api<T>(p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    const now = Date.now();
    const liveFrom = now - 8 * HOUR;

    // Three days of healthy pumps: before any health model, the API says how much normal it still needs.
    let sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    const first = await runSimulation(healthyPumps(3 * DAY, liveFrom - 3 * DAY), { sink: readingsOnly(sink, null), speed: 'max', now });
    await sink.close();
    expect(first.failures).toBe(0);
    await waitUntil(() => d.status().journal.depth === 0 && d.status().store.readingsStored > 0, 60_000, 'history stored');
    expect(d.status().store.eventsStored).toBe(0);

    const run = d.stages.training.trigger({ trigger: 'cli', kind: 'pump', role: 'health' });
    await waitUntil(() => d.stages.training.get(run.id)!.state !== 'running', 240_000, 'a health model of the pumps', 1000);
    const done = d.stages.training.get(run.id)!;
    expect(done, done.reason ?? done.error ?? '').toMatchObject({ state: 'succeeded', role: 'health', promoted: true });
    const registry = new ModelRegistry(d.config.learning.modelsDir);
    const v1 = registry.healthMeta(registry.championVersion('pump', 'health')!);
    expect(v1.calibration.chosenBy).toBe('budget');
    expect(v1.calibration.budget.falseAlarmsPerMachineMonth).toBe(1);
    expect(v1.verdicts.normal).toBe(0);
    // No failure model: the pumps are watched by the health model alone.
    expect(registry.championVersion('pump', 'failure')).toBeNull();

    // Eight more hours, as they come (900 times faster, so that every ten-minute step is scored): pump-01
    // runs hot and vibrates from two hours in; the others stay as they were.
    sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    await runSimulation(healthyPumps(8 * HOUR, liveFrom), {
      sink: readingsOnly(sink, { machine: 'pump-01', from: liveFrom + 2 * HOUR }),
      speed: 900,
      now,
    });
    await sink.close();
    interface AlertRow {
      id: number;
      kind: string;
      machine: { machine: string };
      message: string;
    }
    let alert: AlertRow | undefined;
    await waitUntil(
      async () => {
        const { items } = await api<{ items: AlertRow[] }>('/alerts?kind=anomaly&state=open');
        alert = items.find((a) => a.machine.machine === 'pump-01');
        return alert !== undefined;
      },
      60_000,
      'an anomaly alert on pump-01',
      500,
    );
    expect(alert!.message).toMatch(/^pump-01: health \d+ \(alert below [\d.]+\) — /);
    expect(alert!.message).toMatch(/bearing_temp_c|vib_rms_mms|flow_m3h/);
    const { items: others } = await api<{ items: AlertRow[] }>('/alerts?kind=anomaly');
    expect(others.map((a) => a.machine.machine)).toEqual(['pump-01']);

    const machine = await api<{ health: { index: number; threshold: number; model: string } | null }>('/machines/pump-01');
    expect(machine.health!.model).toBe(v1.version);
    expect(machine.health!.index).toBeLessThan(machine.health!.threshold);
    const healthy = await api<{ health: { index: number; threshold: number } | null }>('/machines/pump-02');
    expect(healthy.health!.index).toBeGreaterThan(healthy.health!.threshold);

    // The technician calls it normal (say, a new duty point): the next model learns that stretch as normal.
    await post(`/alerts/${alert!.id}/resolve`, { note: 'new duty point', verdict: 'normal' });
    const quality = await api<{ anomaly: { falseAlarms: number; verdicts: { normal: number } } }>('/alerts/quality');
    expect(quality.anomaly).toMatchObject({ falseAlarms: 1, verdicts: { normal: 1 } });

    const again = d.stages.training.trigger({ trigger: 'cli', kind: 'pump', role: 'health' });
    await waitUntil(() => d.stages.training.get(again.id)!.state !== 'running', 240_000, 'the next health model', 1000);
    expect(d.stages.training.get(again.id)!.state).toBe('succeeded');
    const v2 = registry.healthMeta(d.stages.training.get(again.id)!.version!);
    expect(v2.verdicts.normal).toBe(1);
    expect(v2.verdicts.normalHours).toBeGreaterThan(1);
    expect(v2.metrics.championOnSameData?.version).toBe(v1.version);
  }, 600_000);
});
