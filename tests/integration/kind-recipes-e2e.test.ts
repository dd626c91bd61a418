import { afterAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { startTestDaemon } from '../support/daemon.js';
import { waitUntil } from '../support/influx.js';

const DAY = 86_400_000;
const TOKEN = 'recipes-operator-token';
const PUMP_STEP = 600_000;
const GEARBOX_STEP = 1_800_000;
let daemon: Daemon | null = null;
afterAll(async () => {
  await daemon?.stop();
});

interface MachineRow {
  machine: { machine: string };
  kind: { name: string } | null;
  score: { model: string; dataTs: string; rulSteps: number; rulSeconds: number } | null;
  health: { model: string; dataTs: string } | null;
  healthDetail: string | null;
}

interface ModelDetail {
  recipe: string;
  meta: {
    kind: string;
    stepMs: number;
    window: number;
    horizon?: number;
    rulCap?: number;
    architecture: { units: number[] };
    normalisation: { sensors: string[]; smoothing?: { alpha: number; std: number[] } };
    recipe: { overrides: string[] };
    decision: { promoted: boolean };
  };
}

describe('a mixed fleet, each kind on its own recipe', () => {
  it('trains and scores pumps on a 10-minute grid and gearboxes on a 30-minute grid with their own horizon, both model roles', async () => {
    ({ daemon } = await startTestDaemon({
      machines: [
        { match: 'pump-*', kind: 'pump' },
        { match: 'gearbox-*', kind: 'gearbox' },
      ],
      ingest: { backfillAge: '3650d' },
      learning: {
        step: '10m',
        window: 24,
        stride: 2,
        horizon: 24,
        rulCap: 96,
        maxGapSteps: 3,
        validationFraction: 0.34,
        minValidationFailures: 1,
        transfer: { enabled: false },
        model: { units: [16, 8], epochs: 4, patience: 2, members: 1 },
      },
      health: { minNormal: '12h', units: [16, 8], epochs: 3, patience: 2 },
      // Gearboxes wear more slowly in this plant's eyes: half-hour steps, a four-hour horizon, a smaller model.
      // The gearbox's recipe is FD003's shape in small: attention pooling and late RUL errors weighted
      // twice; its inputs smoothed, as a kind with noisy sensors would have them.
      kinds: {
        gearbox: {
          step: '30m',
          window: 12,
          smoothing: 0.3,
          horizon: 8,
          rulCap: 32,
          model: { units: [8], pooling: 'attention', rulLateWeight: 2 },
          health: { window: 8 },
        },
      },
      scoring: { interval: '200ms' },
      api: { anonymousRead: true, tokens: [{ name: 'ana', role: 'operator', sha256: hashToken(TOKEN) }] },
    }));
    const d = daemon!;
    await waitUntil(() => d.readiness().ready, 15_000, 'daemon ready');
    const get = async <T>(p: string) => (await (await fetch(`${d.httpUrl}/api/v1${p}`)).json()) as T;

    const base = resolveScenario(loadScenarioFile('simulators/scenarios/demo.yaml'), 'demo');
    const scenario = { ...base, machines: base.machines.filter((g) => g.kind !== 'motor') };
    const sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    const sim = await runSimulation(
      { ...scenario, durationMs: 5 * DAY, startMs: Date.now() - 5 * DAY - 3_600_000 },
      { sink, speed: 'max', now: Date.now() },
    );
    await sink.close();
    await waitUntil(() => d.status().store.eventsStored >= sim.events && d.status().journal.depth === 0, 60_000, 'simulation stored');

    // Before any model, each kind says what its next run learns with, and which of it is its own.
    const kinds = await get<{ items: Array<{ name: string; recipe: { stepMs: number; horizon: number; overrides: string[] } }> }>('/kinds');
    expect(kinds.items.find((k) => k.name === 'gearbox')!.recipe).toMatchObject({
      stepMs: GEARBOX_STEP,
      horizon: 8,
      overrides: [
        'step',
        'window',
        'smoothing',
        'horizon',
        'rulCap',
        'model.units',
        'model.pooling',
        'model.rulLateWeight',
        'health.window',
      ],
      pooling: 'attention',
      rulLateWeight: 2,
      smoothing: 0.3,
    });
    expect(kinds.items.find((k) => k.name === 'pump')!.recipe).toMatchObject({ stepMs: PUMP_STEP, horizon: 24, overrides: [] });

    const train = async (kind: string, role: 'failure' | 'health') => {
      const run = d.stages.training.trigger({ trigger: 'cli', kind, role });
      await waitUntil(() => d.stages.training.get(run.id)!.state !== 'running', 240_000, `a ${role} model of ${kind}`, 1000);
      const done = d.stages.training.get(run.id)!;
      expect(done, done.reason ?? done.error ?? '').toMatchObject({ state: 'succeeded', kind, role });
      // Scoring on each grid is what is tested here, not whether the short run beat no model: put it in service.
      if (!done.promoted) {
        const res = await fetch(`${d.httpUrl}/api/v1/models/${done.version}/promote`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ reason: 'test: scoring on its grid' }),
        });
        expect(res.status).toBe(200);
      }
      return get<ModelDetail>(`/models/${done.version}`);
    };
    const pump = await train('pump', 'failure');
    const gearbox = await train('gearbox', 'failure');
    const gearboxHealth = await train('gearbox', 'health');

    expect(pump.meta).toMatchObject({ stepMs: PUMP_STEP, window: 24, horizon: 24, rulCap: 96, architecture: { units: [16, 8] } });
    expect(pump.meta.architecture).not.toHaveProperty('rulLateWeight');
    expect(pump.meta.normalisation).not.toHaveProperty('smoothing');
    expect(pump.meta.recipe.overrides).toEqual([]);
    expect(pump.recipe).toMatch(/^step 10m · window 24 · horizon 24 · RUL cap 96 · LSTM 16\/8 \(global settings\)$/);
    expect(gearbox.meta).toMatchObject({
      stepMs: GEARBOX_STEP,
      window: 12,
      horizon: 8,
      rulCap: 32,
      architecture: { units: [8], pooling: 'attention', rulLateWeight: 2 },
      normalisation: { smoothing: { alpha: 0.3 } },
    });
    expect(gearbox.meta.normalisation.smoothing!.std).toHaveLength(gearbox.meta.normalisation.sensors.length);
    expect(gearbox.recipe).toMatch(
      /^step 30m · window 12 · inputs smoothed 0.3 · horizon 8 · RUL cap 32 · LSTM 8 \+ attention · late RUL errors ×2 \(kind's recipe: step, window, smoothing/,
    );
    expect(gearboxHealth.meta).toMatchObject({ stepMs: GEARBOX_STEP, window: 8, architecture: { units: [16, 8] } });
    expect(gearboxHealth.meta.recipe.overrides).toContain('health.window');
    const status = d.status() as unknown as { model: { kinds: Array<{ kind: string; recipe: string }> } };
    expect(status.model.kinds.find((k) => k.kind === 'gearbox')!.recipe).toMatch(/^step 30m/);

    // Half a day of live data: each kind scored on its own grid, by its own champions.
    d.stages.scoring.refreshChampion();
    const live = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    await runSimulation(
      { ...scenario, seed: 5, durationMs: DAY / 2, startMs: Date.now() - DAY / 2 - 60_000 },
      { sink: live, speed: 'max', now: Date.now() },
    );
    await live.close();
    const scored = async () => (await get<{ items: MachineRow[] }>('/machines')).items;
    await waitUntil(
      async () => {
        const rows = await scored();
        const byKind = (k: string) => rows.filter((m) => m.kind?.name === k && m.score);
        return byKind('pump').length >= 2 && byKind('gearbox').filter((m) => m.health).length >= 2;
      },
      90_000,
      'both kinds scored',
    );
    const { champions } = await get<{ champions: Record<string, string> }>('/models');
    for (const m of await scored()) {
      if (!m.score) continue;
      const kind = m.kind!.name;
      const step = kind === 'gearbox' ? GEARBOX_STEP : PUMP_STEP;
      // A window ends on its kind's own step, and its RUL is read in that kind's steps.
      expect(Date.parse(m.score.dataTs) % step, `${m.machine.machine} window end`).toBe(0);
      expect(m.score.rulSeconds).toBeCloseTo((m.score.rulSteps * step) / 1000, 0);
      expect(m.score.model).toBe(champions[kind]);
      if (kind === 'gearbox' && m.health) expect(Date.parse(m.health.dataTs) % GEARBOX_STEP).toBe(0);
    }
  }, 600_000);
});
