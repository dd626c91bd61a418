import { afterEach, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { startTestDaemon } from '../support/daemon.js';
import { waitUntil } from '../support/influx.js';

let daemon: Daemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

interface EnergyDoc {
  policy: { lastDecision: { action: string; reason: string; runId: number | null } | null; nextTick: string | null };
  decisions: Array<{ action: string; reason: string; runId: number | null }>;
  runs: Array<{ runId: number; method: string; joules: number; kWh: number; gCO2e: number; detail: Record<string, unknown> }>;
  perDay: Array<{ day: string; runs: number; kWh: number }>;
}

describe('energy-aware scheduling in the daemon', () => {
  it('a cron tick finds normal data and labelled failures, starts training runs in the worker, and the run energy appears in the API', async () => {
    ({ daemon } = await startTestDaemon({
      learning: {
        step: '10m',
        window: 12,
        horizon: 12,
        rulCap: 48,
        stride: 2,
        maxGapSteps: 3,
        model: { units: [8, 4], epochs: 2, patience: 1, members: 1 },
      },
      // Every second; no carbon data, so an idle host is all it waits for (this test box is never idle enough).
      schedule: { enabled: true, cron: '* * * * * *', need: { minFailures: 2 }, idle: { maxCpu: 1, maxLoadPerCore: 1000 } },
      // Small health models: each kind's first one is scheduled before its failure model.
      health: { units: [8, 4], epochs: 2, patience: 1 },
    }));
    const d = daemon!;
    await waitUntil(() => d.readiness().ready, 15_000, 'daemon ready');
    const energy = async () => (await (await fetch(`${d.httpUrl}/api/v1/energy`)).json()) as EnergyDoc;
    await waitUntil(async () => (await energy()).decisions.some((x) => x.action === 'skip'), 10_000, 'a skip decision before any data');
    expect((await energy()).policy.nextTick).not.toBeNull();

    const scenario = resolveScenario(loadScenarioFile('simulators/scenarios/fast-failures.yaml'), 'fast-failures');
    const sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    const sim = await runSimulation(
      { ...scenario, durationMs: 5 * 86_400_000, startMs: Date.now() - 6 * 86_400_000 },
      { sink, speed: 'max', now: Date.now() },
    );
    await sink.close();
    expect(sim.failures).toBeGreaterThanOrEqual(2);

    // A kind's first health model goes first: it warns from readings alone, before any failure model.
    await waitUntil(
      async () => (await energy()).decisions.some((x) => x.action === 'train' && x.runId !== null),
      30_000,
      'a train decision',
    );
    const first = (await energy()).decisions.find((x) => x.action === 'train')!;
    expect(first.reason).toMatch(/\(health\): \d+ h of normal operation and no health model yet; no price or carbon data; host idle/);
    const isFailureRun = (x: EnergyDoc['decisions'][number]) =>
      x.action === 'train' && x.runId !== null && /labelled failures and no model yet/.test(x.reason);
    await waitUntil(async () => (await energy()).decisions.some(isFailureRun), 180_000, 'a failure-model train decision', 1000);
    const train = (await energy()).decisions.find(isFailureRun)!;
    expect(train.reason).toMatch(/labelled failures and no model yet; no price or carbon data; host idle/);
    await waitUntil(async () => (await energy()).runs.some((r) => r.runId === train.runId), 180_000, 'the run energy record', 1000);
    const run = (await energy()).runs.find((r) => r.runId === train.runId)!;
    expect(run.method).toMatch(/^(rapl|cpu-estimate)/);
    expect(run.joules).toBeGreaterThan(0);
    expect(run.gCO2e).toBeCloseTo(run.kWh * 400, 6);
    expect(run.detail).toMatchObject({ epochCap: 2, warmStartedFrom: null });
    // The fleet has three kinds (a model of each role each): further runs may follow.
    const day = (await energy()).perDay[0]!;
    expect(day.runs).toBeGreaterThanOrEqual(1);
    expect(day.kWh).toBeGreaterThanOrEqual(run.kWh);
    const runs = (await (await fetch(`${d.httpUrl}/api/v1/training/runs`)).json()) as {
      items: Array<{ id: number; trigger: string; state: string }>;
    };
    expect(runs.items.find((r) => r.id === train.runId)).toMatchObject({ trigger: 'schedule', state: 'succeeded' });
    const metrics = await (await fetch(`${d.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/vigil_energy_joules_total [1-9]/);
    expect(metrics).toMatch(/vigil_energy_decisions\{action="train"\} [1-9]/);
  });
});
