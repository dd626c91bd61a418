import { afterAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { startTestDaemon } from '../support/daemon.js';
import { waitUntil } from '../support/influx.js';

const DAY = 86_400_000;
let daemon: Daemon | null = null;
afterAll(async () => {
  await daemon?.stop();
});

interface MachineRow {
  machine: { machine: string };
  kind: { name: string; source: string } | null;
  status: string;
  detail: string | null;
  score: { model: string; missingInputs: string[] } | null;
}

describe('two machine kinds in one daemon', () => {
  it('trains a model per kind on its own sensors, scores each machine with its kind’s champion, and says why a kind has none', async () => {
    ({ daemon } = await startTestDaemon({
      // Pumps named by the config; motors inferred from the sensors they send.
      machines: [{ match: 'pump-*', kind: 'pump' }],
      ingest: { backfillAge: '3650d' },
      learning: {
        step: '10m',
        window: 24,
        stride: 2,
        horizon: 24,
        rulCap: 96,
        maxGapSteps: 3,
        validationFraction: 0.34,
        // Gearboxes share 3 of their 8 sensors with pumps and motors: enough here to start from one of their champions.
        transfer: { minSharedSensors: 0.3 },
        model: { units: [16, 8], epochs: 4, patience: 2, members: 2 },
      },
      scoring: { interval: '200ms' },
    }));
    const d = daemon!;
    await waitUntil(() => d.readiness().ready, 15_000, 'daemon ready');
    const get = async <T>(p: string) => (await (await fetch(`${d.httpUrl}/api/v1${p}`)).json()) as T;

    const base = resolveScenario(loadScenarioFile('simulators/scenarios/demo.yaml'), 'demo');
    const scenario = { ...base, machines: base.machines.filter((g) => g.kind !== 'gearbox') };
    const sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    const sim = await runSimulation(
      { ...scenario, durationMs: 5 * DAY, startMs: Date.now() - 5 * DAY - 3_600_000 },
      { sink, speed: 'max', now: Date.now() },
    );
    await sink.close();
    await waitUntil(() => d.status().store.eventsStored >= sim.events && d.status().journal.depth === 0, 60_000, 'simulation stored');

    const kinds = await get<{
      rule: string;
      items: Array<{ name: string; source: string; machines: number; sensors: string[]; whyNoModel: string | null }>;
    }>('/kinds');
    expect(kinds.rule).toMatch(/same set of sensors/);
    const pump = kinds.items.find((k) => k.name === 'pump')!;
    const motor = kinds.items.find((k) => k.source === 'inferred')!;
    expect(pump).toMatchObject({ source: 'config', machines: 4, whyNoModel: 'no model of this kind trained yet' });
    expect(motor.name).toMatch(/^auto-[0-9a-f]{8}$/);
    expect(motor.machines).toBe(4);
    // Each kind has sensors the other lacks (a fleet-wide model would see them as missing).
    expect(pump.sensors.some((s) => !motor.sensors.includes(s)) && motor.sensors.some((s) => !pump.sensors.includes(s))).toBe(true);

    for (const kind of ['pump', motor.name]) {
      const run = d.stages.training.trigger({ trigger: 'cli', kind });
      await waitUntil(() => d.stages.training.get(run.id)!.state !== 'running', 240_000, `a model of ${kind}`, 1000);
      expect(d.stages.training.get(run.id), d.stages.training.get(run.id)!.reason ?? '').toMatchObject({
        state: 'succeeded',
        kind,
        promoted: true,
      });
    }
    const models = await get<{ champions: Record<string, string>; items: Array<{ version: string; kind: string; champion: boolean }> }>(
      '/models',
    );
    expect(Object.keys(models.champions).sort()).toEqual([motor.name, 'pump'].sort());
    const onlyPumps = await get<{ items: Array<{ kind: string }> }>('/models?kind=pump');
    expect(onlyPumps.items.map((m) => m.kind)).toEqual(['pump']);
    const meta = await get<{ meta: { kind: string; sensors: string[]; transferredFrom: unknown } }>(`/models/${models.champions.pump}`);
    expect(meta.meta).toMatchObject({ kind: 'pump', sensors: pump.sensors, transferredFrom: null });
    // Gearboxes arrive later, with few failures: their first model starts from a related champion,
    // and is promoted only if it beats that champion unchanged on the gearboxes' held-out failures.
    const gearboxes = { ...base, machines: base.machines.filter((g) => g.kind === 'gearbox') };
    const late = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    const few = await runSimulation(
      { ...gearboxes, durationMs: 2.5 * DAY, startMs: Date.now() - 2.5 * DAY - 3_600_000 },
      { sink: late, speed: 'max', now: Date.now() },
    );
    await late.close();
    expect(few.failures).toBeGreaterThan(0);
    await waitUntil(
      () => d.status().store.eventsStored >= sim.events + few.events && d.status().journal.depth === 0,
      60_000,
      'gearboxes stored',
    );
    const gearbox = (await get<{ items: Array<{ name: string; machines: number }> }>('/kinds')).items.find(
      (k) => k.name !== 'pump' && k.name !== motor.name,
    )!;
    const gRun = d.stages.training.trigger({ trigger: 'cli', kind: gearbox.name });
    await waitUntil(() => d.stages.training.get(gRun.id)!.state !== 'running', 240_000, 'a model of the gearboxes', 1000);
    const gDone = d.stages.training.get(gRun.id)!;
    expect(gDone.state, gDone.error ?? '').toBe('succeeded');
    const gMeta = await get<{
      meta: {
        kind: string;
        transferredFrom: { version: string; kind: string; rehearsal?: { windows: number; machines: number } } | null;
        machines: { validation: string[] };
        training: { members: unknown[] };
        decision: { reason: string };
      };
    }>(`/models/${gDone.version}`);
    expect(gMeta.meta.kind).toBe(gearbox.name);
    expect([models.champions.pump, models.champions[motor.name]]).toContain(gMeta.meta.transferredFrom?.version);
    // Its failed machines are few: each of its two members held out a fold of them, so every machine validated it.
    expect(gMeta.meta.machines.validation).toHaveLength(gearbox.machines);
    expect(gMeta.meta.training.members).toHaveLength(2);
    // Fine-tuned beside the source kind's machines (rehearsal, on by default), read from the store.
    const sourceKind = gMeta.meta.transferredFrom!.kind;
    expect(gMeta.meta.transferredFrom!.rehearsal).toEqual({ windows: expect.any(Number), machines: expect.any(Number) });
    expect(gMeta.meta.transferredFrom!.rehearsal!.windows).toBeGreaterThan(0);
    expect(gMeta.meta.transferredFrom!.rehearsal!.machines).toBeGreaterThanOrEqual(1);
    expect(gMeta.meta.transferredFrom!.rehearsal!.machines).toBeLessThanOrEqual(
      (await get<{ items: Array<{ name: string; machines: number }> }>('/kinds')).items.find((k) => k.name === sourceKind)!.machines,
    );
    expect(gMeta.meta.decision.reason).toMatch(/transferred/);
    // Promoted or not, the kind says where it stands: served by that model, or why it has none.
    const gKind = (await get<{ items: Array<{ name: string; servedBy: string | null; whyNoModel: string | null }> }>('/kinds')).items.find(
      (k) => k.name === gearbox.name,
    )!;
    expect(gKind).toEqual(
      gDone.promoted
        ? expect.objectContaining({ servedBy: gDone.version, whyNoModel: null })
        : expect.objectContaining({ servedBy: null, whyNoModel: `${gDone.version} was not promoted: ${gMeta.meta.decision.reason}` }),
    );

    // Live data: every machine scored by its own kind's champion, with no input it lacks.
    d.stages.scoring.refreshChampion();
    const live = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    await runSimulation(
      { ...scenario, seed: 5, durationMs: DAY / 2, startMs: Date.now() - DAY / 2 - 60_000 },
      { sink: live, speed: 'max', now: Date.now() },
    );
    await live.close();
    await waitUntil(
      async () => (await get<{ items: MachineRow[] }>('/machines')).items.filter((m) => m.score).length >= 6,
      60_000,
      'machines scored',
    );
    const rows = (await get<{ items: MachineRow[] }>('/machines')).items.filter((m) => m.score);
    for (const m of rows) {
      const kind = m.machine.machine.startsWith('pump-') ? 'pump' : m.machine.machine.startsWith('motor-') ? motor.name : gearbox.name;
      expect(m.kind).toEqual({ name: kind, source: kind === 'pump' ? 'config' : 'inferred' });
      expect(m.score!.model).toBe(kind === gearbox.name ? gDone.version : models.champions[kind]);
      expect(m.score!.missingInputs).toEqual([]);
    }
    const pumps = await get<{ items: MachineRow[]; total: number }>('/machines?kind=pump');
    expect(pumps.total).toBe(4);
  });
});
