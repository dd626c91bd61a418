import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { validateConfig } from '../../src/vigil-config.js';
import { KindResolver } from '../../src/core/kinds.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Sample } from '../../src/core/types.js';
import type { Normalisation } from '../../src/features/normalize.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { buildHealthLstm } from '../../src/model/health-lstm.js';
import { coordinatorOptions } from '../../src/federation/build.js';
import { localMoments, planSpec } from '../../src/federation/local.js';
import type { Plan } from '../../src/federation/messages.js';
import type { WorkerLearner } from '../../src/federation/worker-learner.js';
import { buildLstm } from '../../src/model/lstm.js';
import { recipeText } from '../../src/registry/recipe.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import type { InferenceClient } from '../../src/scoring/inference-client.js';
import { kindGrid } from '../../src/scoring/kind-champions.js';
import { ScoringService } from '../../src/scoring/service.js';
import { openVigilState } from '../../src/state.js';
import { healthFor, learningFor, recipeGrid, recipeOverrides, recipeView } from '../../src/training/recipes.js';
import { M1, tempDir } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';
import { scoringHistories, testHealthMeta, testMeta } from '../support/model-meta.js';

const cfg = (raw: Record<string, unknown>) => validateConfig(raw, { cwd: process.cwd(), origin: 'test' });
const MACHINES = [
  { match: 'comp-*', kind: 'compressor' },
  { match: 'pump-*', kind: 'pump' },
];

describe('a learning recipe per kind', () => {
  it("a kind's recipe overrides the global settings it names, for both model roles; the rest stay global", () => {
    const c = cfg({
      machines: MACHINES,
      learning: { step: '1m', window: 50, horizon: 30, rulCap: 125, model: { units: [64, 32], members: 5 } },
      health: { units: [32, 16] },
      kinds: {
        compressor: {
          step: '10m',
          window: 36,
          smoothing: 0.3,
          horizon: 144,
          rulCap: 432,
          conditions: ['load'],
          model: { units: [32, 16], pooling: 'attention', rulLateWeight: 2 },
          health: { units: [16] },
        },
      },
    });
    const comp = learningFor(c, 'compressor');
    expect(comp).toMatchObject({ step: 600_000, window: 36, smoothing: 0.3, horizon: 144, rulCap: 432, conditions: ['load'] });
    expect(c.learning.smoothing).toBe(1);
    expect(comp.model).toMatchObject({
      units: [32, 16],
      pooling: 'attention',
      rulLateWeight: 2,
      members: 5,
      learningRate: c.learning.model.learningRate,
    });
    expect(c.learning.model).toMatchObject({ pooling: 'last', rulLateWeight: 1 });
    // Not in the recipe: the global settings, by the same object.
    expect(learningFor(c, 'pump')).toBe(c.learning);
    expect(learningFor(c, 'auto-1234abcd')).toBe(c.learning);
    // The health model: the kind's window unless its own health window is set, its own units.
    expect(healthFor(c, 'compressor')).toMatchObject({ window: 36, units: [16], epochs: c.health.epochs });
    expect(healthFor(c, 'pump')).toMatchObject({ window: 50, units: [32, 16] });
    expect(recipeOverrides(c, 'compressor')).toEqual([
      'step',
      'window',
      'smoothing',
      'horizon',
      'rulCap',
      'conditions',
      'model.units',
      'model.pooling',
      'model.rulLateWeight',
      'health.units',
    ]);
    expect(recipeOverrides(c, 'pump')).toEqual([]);
    expect(recipeGrid(c, 'compressor')).toEqual({ stepMs: 600_000, windowSteps: 36 });
    expect(recipeView(c, 'compressor')).toMatchObject({
      stepMs: 600_000,
      smoothing: 0.3,
      horizon: 144,
      units: [32, 16],
      pooling: 'attention',
      rulLateWeight: 2,
      health: { window: 36, units: [16] },
    });
    expect(recipeView(c, 'pump')).toMatchObject({ pooling: 'last', rulLateWeight: 1, smoothing: 1 });
    // Live data is what the longest scoring window of any kind spans (36 × 10 min, not 50 × 1 min).
    expect(c.ingest.backfillAge).toBe(36 * 600_000);
  });

  it("a federation trains a kind's model with its recipe's pooling and loss; a plan from before the loss setting trains the plain one", () => {
    const c = cfg({ machines: MACHINES, kinds: { compressor: { model: { pooling: 'attention', rulLateWeight: 2 } } } });
    const learner = {} as WorkerLearner;
    const comp = coordinatorOptions(c, 'compressor', learner);
    expect(comp.shape).toMatchObject({ pooling: 'attention' });
    expect(comp.params.rulLateWeight).toBe(2);
    expect(coordinatorOptions(c, 'pump', learner).params.rulLateWeight).toBe(1);
    const plan = { params: comp.params, shape: comp.shape } as unknown as Plan;
    expect(planSpec(plan, 'stock')).toMatchObject({ pooling: 'attention', rulLateWeight: 2 });
    const { rulLateWeight: _, ...older } = comp.params;
    expect(planSpec({ ...plan, params: older } as Plan, 'stock').rulLateWeight).toBe(1);
    // A kind that smooths its inputs: the plan says so, and each gateway's statistics carry the smoothed moments.
    const smoothing = cfg({ machines: MACHINES, kinds: { compressor: { smoothing: 0.3 } } });
    const shape = coordinatorOptions(smoothing, 'compressor', learner).shape;
    expect(shape.smoothing).toBe(0.3);
    expect(coordinatorOptions(smoothing, 'pump', learner).shape).not.toHaveProperty('smoothing');
    // A rising series: its smoothed values lag behind, so their mean is lower over the same steps.
    const ramp = (machine: string) => ({
      machine,
      startTs: 0,
      stepMs: 60_000,
      sensors: ['t'],
      steps: 40,
      data: Float32Array.from({ length: 40 }, (_, k) => k),
    });
    const labels = {
      failure: new Uint8Array(40),
      rul: new Float32Array(40),
      failureTs: new Float64Array(40).fill(NaN),
      usable: new Uint8Array(40).fill(1),
    };
    const local = {
      items: ['comp-1', 'comp-2', 'comp-3'].map((m) => ({ seg: ramp(m), labels })),
      sensors: ['t'],
      machines: 3,
      failures: 0,
    };
    const params = { ...comp.params, seed: 1 };
    const sent = localMoments(local as never, { shape: { ...shape, window: 2, validationFraction: 0.2 }, params });
    expect(sent.smoothed!.count).toEqual(sent.count);
    expect(sent.count[0]).toBeGreaterThan(0);
    expect(sent.smoothed!.mean[0]).toBeLessThan(sent.mean[0]! - 1);
    expect(
      localMoments(local as never, { shape: { ...shape, smoothing: undefined, window: 2, validationFraction: 0.2 }, params }),
    ).not.toHaveProperty('smoothed');
  });

  it('a kind named like an Object property has no recipe unless one is configured', () => {
    const c = cfg({ machines: [{ match: 'x-*', kind: 'constructor' }] });
    expect(learningFor(c, 'constructor')).toBe(c.learning);
    expect(learningFor(c, 'toString')).toBe(c.learning);
    expect(recipeOverrides(c, 'constructor')).toEqual([]);
    const own = cfg({ machines: [{ match: 'x-*', kind: 'constructor' }], kinds: { constructor: { window: 20 } } });
    expect(learningFor(own, 'constructor').window).toBe(20);
  });

  it('config check judges each recipe on its own: RUL cap above its horizon, a kind some machines are of, known settings', () => {
    const problems = (kinds: unknown) => {
      try {
        cfg({ machines: MACHINES, kinds });
        return '';
      } catch (err) {
        return String((err as Error).message);
      }
    };
    // The global cap (125) is below this kind's horizon: its own recipe must raise it.
    expect(problems({ compressor: { step: '10m', horizon: 144 } })).toMatch(
      /kinds\.compressor\.rulCap: must exceed the kind's horizon \(144 steps\)/,
    );
    expect(problems({ compressor: { horizon: 144, rulCap: 300 } })).toBe('');
    expect(problems({ gearbox: { window: 20 } })).toMatch(/kinds\.gearbox: no machines: entry is of kind gearbox/);
    expect(problems({ compressor: { windw: 20 } })).toMatch(/kinds/);
    expect(problems({ compressor: { model: { unitz: [8] } } })).toMatch(/kinds/);
    // An early error weighted above a late one is not what the setting is for.
    expect(problems({ compressor: { model: { rulLateWeight: 0.5 } } })).toMatch(/kinds/);
    expect(problems({ compressor: { smoothing: 0 } })).toMatch(/kinds/);
    expect(problems({ compressor: { smoothing: 1.5 } })).toMatch(/kinds/);
    expect(problems({ compressor: { model: { rulLateWeight: 2 } } })).toBe('');
    expect(problems({ 'Big Pump': { window: 20 } })).toMatch(/kinds/);
    expect(problems({ compressor: { step: '0m' } })).toMatch(/kinds/);
    expect(problems({ compressor: { health: { window: 2 } } })).toMatch(/kinds/);
    expect(problems({ compressor: { window: 3 } })).toMatch(/kinds\.compressor\.health\.window: the kind's health window comes to 3 steps/);
  });

  it('a model says the recipe it was trained with; one from before recipes says its settings alone', () => {
    const norm = { sensors: ['a'], mean: [0], std: [1], dropped: [] };
    const m = testMeta('v0001', { kind: 'compressor', stepMs: 600_000, window: 36, horizon: 144, rulCap: 432, normalisation: norm });
    expect(recipeText(m)).toBe('step 10m · window 36 · horizon 144 · RUL cap 432 · LSTM 5/4');
    expect(recipeText({ ...m, recipe: { overrides: ['step', 'window'] } })).toMatch(/\(kind's recipe: step, window\)$/);
    expect(recipeText({ ...m, recipe: { overrides: [] } })).toMatch(/\(global settings\)$/);
    const late = { ...m, architecture: { ...m.architecture, pooling: 'attention' as const, rulLateWeight: 2 } };
    expect(recipeText(late)).toBe('step 10m · window 36 · horizon 144 · RUL cap 432 · LSTM 5/4 + attention · late RUL errors ×2');
    const h = testHealthMeta('v0002', { kind: 'compressor', stepMs: 30_000, window: 12, normalisation: norm });
    expect(recipeText(h)).toMatch(/^step 30s · window 12 · LSTM/);
  });

  it('a kind grid: its champions’ step and longest window there, else its recipe', () => {
    expect(kindGrid([undefined, undefined], { stepMs: 600_000, windowSteps: 36 }, 5)).toEqual({ stepMs: 600_000, keep: 43 });
    expect(
      kindGrid(
        [
          { stepMs: 1000, window: 4 },
          { stepMs: 1000, window: 10 },
        ],
        { stepMs: 1000, windowSteps: 6 },
        2,
      ),
    ).toEqual({
      stepMs: 1000,
      keep: 14,
    });
    // A recipe changed since the champion was trained: the champion's grid serves until it is retrained.
    expect(kindGrid([{ stepMs: 1000, window: 4 }], { stepMs: 5000, windowSteps: 40 }, 2)).toEqual({ stepMs: 1000, keep: 8 });
  });
});

describe('scoring a mixed fleet, each kind on its own grid', () => {
  let tf: TF;
  let inference: InferenceClient;
  beforeAll(async () => {
    quietTfWarnings();
    tf = (await loadTf('cpu')).tf;
    const { InferenceClient: Client } = (await import(
      path.resolve('dist/src/scoring/inference-client.js')
    )) as typeof import('../../src/scoring/inference-client.js');
    inference = new Client('cpu');
  });
  afterAll(async () => inference.close());

  const norm = (sensors: string[]): Normalisation => ({ sensors, mean: sensors.map(() => 0), std: sensors.map(() => 1), dropped: [] });
  const lstm = (window: number, features: number, seed: number) =>
    buildLstm(tf, { windowSteps: window, features, units: [4], dropout: 0, learningRate: 0.01, recurrentActivation: 'sigmoid', seed });
  const PUMP_STEP = 1000;
  const COMP_STEP = 10_000;

  it('scores a pump each second and a compressor each ten seconds in one service; a kind’s models on another step are told to retrain', async () => {
    const dir = tempDir('vigil-recipes-scoring-');
    const reg = new ModelRegistry(dir);
    await reg.save(
      tf,
      lstm(4, 2, 1),
      testMeta('v0001', {
        kind: 'pump',
        stepMs: PUMP_STEP,
        window: 4,
        normalisation: norm(['flow', 'pressure']),
        sensors: ['flow', 'pressure'],
      }),
    );
    await reg.save(
      tf,
      lstm(3, 1, 2),
      testMeta('v0002', { kind: 'compressor', stepMs: COMP_STEP, window: 3, normalisation: norm(['valve']), sensors: ['valve'] }),
    );
    // A health model of the compressor trained before its recipe changed: on the pump's step.
    await reg.save(
      tf,
      buildHealthLstm(tf, { windowSteps: 4, features: 1, sensors: 1, units: [4], dropout: 0, learningRate: 0.01, seed: 3 }),
      testHealthMeta('v0003', { kind: 'compressor', stepMs: PUMP_STEP, window: 4, normalisation: norm(['valve']), sensors: ['valve'] }),
    );
    const clock = new ManualClock(60_000);
    const recipes: Record<string, { stepMs: number; windowSteps: number }> = { compressor: { stepMs: COMP_STEP, windowSteps: 3 } };
    const svc = new ScoringService(
      inference,
      scoringHistories(openVigilState(':memory:'), 86_400_000),
      clock,
      silentLogger(),
      {
        intervalMs: 1000,
        maxBatch: 16,
        topSensors: 1,
        stepMs: PUMP_STEP,
        windowSteps: 4,
        gridFor: (kind) => recipes[kind] ?? { stepMs: PUMP_STEP, windowSteps: 4 },
        maxGapSteps: 2,
      },
      dir,
      undefined,
      new KindResolver(MACHINES),
    );
    // 60 s of readings, each machine once a second.
    const samples: Sample[] = [];
    for (let t = 0; t < 60_000; t += 1000) {
      samples.push({ machine: { ...M1, machine: 'pump-1' }, ts: t + 10, values: { flow: t / 1000, pressure: 1 } });
      samples.push({ machine: { ...M1, machine: 'comp-1' }, ts: t + 10, values: { valve: Math.sin(t) } });
    }
    svc.observe({ samples, events: [] });
    svc.setChampions(
      new Map([
        ['pump', { version: 'v0001', meta: reg.failureMeta('v0001') }],
        ['compressor', { version: 'v0002', meta: reg.failureMeta('v0002') }],
      ]),
      () => 'none',
    );
    svc.setHealthChampions(new Map([['compressor', { version: 'v0003', meta: reg.healthMeta('v0003') }]]), () => 'none');
    await svc.tick();
    expect(svc.stats.lastError).toBeNull();
    const pump = svc.machine('pump-1')!;
    const comp = svc.machine('comp-1')!;
    expect(pump.score).toMatchObject({ model: 'v0001' });
    expect(comp.score).toMatchObject({ model: 'v0002' });
    // Each window ends on its own kind's step: the pump's at the last second, the compressor's at the last ten.
    expect(pump.score!.dataTs % PUMP_STEP).toBe(0);
    expect(comp.score!.dataTs % COMP_STEP).toBe(0);
    expect(comp.score!.dataTs).toBe(60_000);
    expect(pump.score!.rulMs).toBe(pump.score!.rulSteps * PUMP_STEP);
    expect(comp.score!.rulMs).toBe(comp.score!.rulSteps * COMP_STEP);
    // The compressor's health model is on the pump's step: it cannot read the compressor's grid.
    expect(comp.health).toBeNull();
    expect(comp.healthDetail).toMatch(/champion v0003 has a 1000 ms step, the kind's failure model 10000 ms: retrain it/);
    expect(svc.kindOfMachine('comp-1')).toBe('compressor');
    expect(svc.kindOfMachine('comp-unseen')).toBe('compressor');
    expect(svc.kindOfMachine('m-unseen')).toBeNull();
    // The inference worker loads tfjs and the kernels on its first batch: over 10 s on a busy machine.
  }, 60_000);
});
