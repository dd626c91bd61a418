import { scoringHistories } from '../support/model-meta.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/vigil-config.js';
import { KindResolver, globToRegExp } from '../../src/core/kinds.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Sample } from '../../src/core/types.js';
import { groupByKind } from '../../src/features/kinds.js';
import type { Normalisation } from '../../src/features/normalize.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { buildHealthLstm } from '../../src/model/health-lstm.js';
import { buildLstm } from '../../src/model/lstm.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import type { InferenceClient } from '../../src/scoring/inference-client.js';
import { ScoringService } from '../../src/scoring/service.js';
import { openVigilState } from '../../src/state.js';
import { chooseKind } from '../../src/training/run.js';
import { M1, tempDir } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';
import { testHealthMeta, testMeta } from '../support/model-meta.js';

const PUMP = ['flow', 'pressure'];
const MOTOR = ['current', 'speed', 'winding_temp'];

describe('machine kinds', () => {
  it('the first matching pattern names the kind; otherwise machines with the same sensors share an inferred one', () => {
    const r = new KindResolver([
      { match: 'pump-*', kind: 'pump' },
      { match: 'p?mp-9', kind: 'never' },
    ]);
    expect(r.kindOf('pump-09', MOTOR)).toEqual({ kind: 'pump', source: 'config' });
    expect(r.configured('Pump-01')).toBeNull();
    const a = r.kindOf('m1', ['b', 'a', 'a']);
    expect(a).toEqual({ kind: expect.stringMatching(/^auto-[0-9a-f]{8}$/), source: 'inferred' });
    // Order and repeats do not matter; the name is stable across processes (a hash, not a counter).
    expect(r.kindOf('m2', ['a', 'b']).kind).toBe(a.kind);
    expect(new KindResolver([]).inferredKind(['a', 'b'])).toBe(a.kind);
    expect(r.kindOf('m3', ['a', 'b', 'c']).kind).not.toBe(a.kind);
    // A run of stars is one star: a long id against `***…` answers at once.
    expect(globToRegExp('p***-*').source).toBe('^p.*-.*$');
    // Regex characters in a pattern are literal.
    expect(new KindResolver([{ match: 'line.1/*', kind: 'x' }]).configured('lineX1/m')).toBeNull();
  });

  it('groups the store machines by kind, each with only the sensors its machines send', () => {
    const machines = [
      { ref: { ...M1, machine: 'pump-1' }, sensors: PUMP, lastTs: 1 },
      { ref: { ...M1, machine: 'pump-2' }, sensors: PUMP, lastTs: 1 },
      { ref: { ...M1, machine: 'm-7' }, sensors: MOTOR, lastTs: 1 },
    ];
    const groups = groupByKind(machines, new KindResolver([{ match: 'pump-*', kind: 'pump' }]));
    expect(groups.map((g) => [g.kind.startsWith('auto-') ? 'auto' : g.kind, g.source, g.machines, g.sensors])).toEqual([
      ['auto', 'inferred', ['m-7'], MOTOR],
      ['pump', 'config', ['pump-1', 'pump-2'], PUMP],
    ]);
    // Without a kind asked for: kinds with failures first, then without a champion, then the most failures.
    const champion = (k: string) => (k === 'pump' ? 'v0001' : null);
    expect(chooseKind(groups, undefined, { championVersion: champion }, ['pump-1']).kind).toBe('pump');
    expect(chooseKind(groups, undefined, { championVersion: champion }, ['pump-1', 'm-7']).kind).toMatch(/^auto-/);
    expect(() => chooseKind(groups, 'gearbox', { championVersion: champion })).toThrow(/no machine of kind gearbox/);
  });

  it('config: a kind name must be plain, and auto- is kept for inferred kinds', () => {
    const check = (kind: string) => () => validateConfig({ machines: [{ match: '*', kind }] }, { cwd: process.cwd(), origin: 'test' });
    expect(check('pump')).not.toThrow();
    expect(check('auto-1')).toThrow(/machines/);
    expect(check('Pump Station')).toThrow(/machines/);
  });
});

describe('registry and scoring per kind', () => {
  let tf: TF;
  let inference: InferenceClient;
  beforeAll(async () => {
    quietTfWarnings();
    tf = (await loadTf('cpu')).tf;
    // The worker runs compiled code (dist/, built by `npm test`), as in the daemon.
    const { InferenceClient: Client } = (await import(
      path.resolve('dist/src/scoring/inference-client.js')
    )) as typeof import('../../src/scoring/inference-client.js');
    inference = new Client('cpu');
  });
  afterAll(async () => inference.close());
  const STEP = 1000;
  const WINDOW = 4;
  const norm = (sensors: string[]): Normalisation => ({ sensors, mean: sensors.map(() => 0), std: sensors.map(() => 1), dropped: [] });
  const lstm = (features: number, seed: number) =>
    buildLstm(tf, { windowSteps: WINDOW, features, units: [4], dropout: 0, learningRate: 0.01, recurrentActivation: 'sigmoid', seed });
  const meta = (v: string, kind: string | undefined, sensors: string[]) =>
    testMeta(v, { ...(kind ? { kind } : {}), stepMs: STEP, window: WINDOW, rulCap: 50, normalisation: norm(sensors), sensors });

  it('one champion per kind: promotion, rollback and retention stay within a kind; a registry from before kinds still reads', async () => {
    const dir = tempDir('vigil-kinds-registry-');
    const reg = new ModelRegistry(dir);
    await reg.save(tf, lstm(2, 1), meta('v0001', 'pump', PUMP));
    await reg.save(tf, lstm(3, 2), meta('v0002', 'motor', MOTOR));
    await reg.save(tf, lstm(2, 3), meta('v0003', 'pump', PUMP));
    reg.promote('v0001', 'first');
    reg.promote('v0002', 'first');
    reg.promote('v0003', 'better');
    expect(reg.champions()).toEqual({ pump: 'v0003', motor: 'v0002' });
    expect(reg.championVersion()).toBeNull(); // several kinds: name one
    expect(reg.list('pump').map((m) => [m.version, m.champion])).toEqual([
      ['v0001', false],
      ['v0003', true],
    ]);
    expect(() => reg.rollback()).toThrow(/name the kind to roll back: motor, pump/);
    expect(() => reg.rollback(undefined, 'motor')).toThrow(/no earlier champion of motor/);
    expect(reg.rollback(undefined, 'pump')).toBe('v0001');
    expect(reg.champions()).toEqual({ pump: 'v0001', motor: 'v0002' });
    expect(() => reg.rollback('v0002', 'pump')).toThrow(/v0002 serves motor, not pump/);
    expect(reg.newestVersion('pump')?.version).toBe('v0003');
    expect(reg.servingVersion('gearbox')).toBeNull();
    // Retention counts each kind's versions: motor's single version is never crowded out by pumps.
    expect(reg.enforceRetention(1)).toEqual([]);
    expect(reg.versions()).toEqual(['v0001', 'v0002', 'v0003']);

    // registry.json as written before kinds: one champion, whose meta.json has no kind.
    const old = tempDir('vigil-kinds-legacy-');
    const legacy = new ModelRegistry(old);
    await legacy.save(tf, lstm(2, 4), meta('v0001', undefined, PUMP));
    writeFileSync(
      path.join(old, 'registry.json'),
      JSON.stringify({ champion: 'v0001', history: [{ at: '2026-01-01T00:00:00Z', version: 'v0001', action: 'promoted', reason: 'x' }] }),
    );
    expect(legacy.champions()).toEqual({ '*': 'v0001' });
    expect(legacy.championVersion()).toBe('v0001');
    // A model from before kinds serves every kind without its own champion.
    expect(legacy.servingVersion('pump')).toBe('v0001');
    expect(legacy.history()[0]).toMatchObject({ kind: '*' });
  });

  it('a health model is a second role: its own champion, list, rollback and retention beside the failure model', async () => {
    const dir = tempDir('vigil-roles-registry-');
    const reg = new ModelRegistry(dir);
    const health = (v: string, seed: number) =>
      reg.save(
        tf,
        buildHealthLstm(tf, { windowSteps: WINDOW, features: 2, sensors: 2, units: [4], dropout: 0, learningRate: 0.01, seed }),
        testHealthMeta(v, { kind: 'pump', stepMs: STEP, window: WINDOW, normalisation: norm(PUMP), sensors: PUMP }),
      );
    await reg.save(tf, lstm(2, 1), meta('v0001', 'pump', PUMP));
    await health('v0002', 2);
    await health('v0003', 3);
    reg.promote('v0001', 'first');
    reg.promote('v0002', 'first health model');
    reg.promote('v0003', 'better on the same held-out data');
    expect(reg.champions()).toEqual({ pump: 'v0001' });
    expect(reg.champions('health')).toEqual({ pump: 'v0003' });
    expect(reg.championVersion('pump', 'health')).toBe('v0003');
    expect(reg.list('pump', 'health').map((m) => [m.version, m.champion])).toEqual([
      ['v0002', false],
      ['v0003', true],
    ]);
    expect(reg.list('pump', 'failure').map((m) => m.version)).toEqual(['v0001']);
    expect(() => reg.healthMeta('v0001')).toThrow();
    // A rollback stays within its role; naming a version of the other role is refused.
    expect(() => reg.rollback('v0002', 'pump', 'failure')).toThrow(/v0002 is a health model, not a failure model/);
    expect(() => reg.rollback(undefined, 'pump')).toThrow(/no earlier champion of pump/);
    expect(reg.rollback(undefined, 'pump', 'health')).toBe('v0002');
    expect(reg.champions()).toEqual({ pump: 'v0001' });
    expect(reg.champions('health')).toEqual({ pump: 'v0002' });
    // Retention counts each role of a kind apart: the failure champion is never crowded out by health versions.
    await health('v0004', 4);
    await health('v0005', 5);
    const removed = reg.enforceRetention(1);
    expect(removed).not.toContain('v0001');
    expect(removed).not.toContain('v0002');
    expect(reg.versions()).toContain('v0001');
  });

  it('scores each machine with its own kind’s champion on that kind’s sensors; a kind without one says why', async () => {
    const dir = tempDir('vigil-kinds-scoring-');
    const reg = new ModelRegistry(dir);
    await reg.save(tf, lstm(2, 1), meta('v0001', 'pump', PUMP));
    await reg.save(tf, lstm(3, 2), meta('v0002', 'motor', MOTOR));
    const clock = new ManualClock();
    const svc = new ScoringService(
      inference,
      scoringHistories(openVigilState(':memory:'), 86_400_000),
      clock,
      silentLogger(),
      { intervalMs: 1000, maxBatch: 16, topSensors: 1, stepMs: STEP, windowSteps: WINDOW, maxGapSteps: 2 },
      dir,
      undefined,
      new KindResolver([
        { match: 'pump-*', kind: 'pump' },
        { match: 'fan-*', kind: 'fan' },
      ]),
    );
    const send = (machine: string, sensors: string[], from: number) => {
      const samples: Sample[] = [];
      for (let k = from; k < from + 8; k++)
        samples.push({ machine: { ...M1, machine }, ts: k * STEP + 10, values: Object.fromEntries(sensors.map((s, i) => [s, k + i])) });
      svc.observe({ samples, events: [] });
    };
    send('pump-1', PUMP, 0);
    send('motor-a', MOTOR, 0); // no pattern: inferred from its sensors
    send('fan-1', ['rpm'], 0);
    const motorKind = new KindResolver([]).inferredKind(MOTOR);
    await reg.save(tf, lstm(3, 3), meta('v0003', motorKind, MOTOR));
    const champions = new Map([
      ['pump', { version: 'v0001', meta: reg.failureMeta('v0001') }],
      [motorKind, { version: 'v0003', meta: reg.failureMeta('v0003') }],
    ]);
    svc.setChampions(champions, (kind) => `no model of ${kind} promoted yet: too few failures`);
    await svc.tick();
    expect(svc.stats.lastError).toBeNull();
    const pump = svc.machine('pump-1')!;
    expect(pump.kind).toEqual({ kind: 'pump', source: 'config' });
    expect(pump.score).toMatchObject({ model: 'v0001', missingInputs: [] });
    const motor = svc.machine('motor-a')!;
    expect(motor.kind).toEqual({ kind: motorKind, source: 'inferred' });
    expect(motor.score).toMatchObject({ model: 'v0003', missingInputs: [] });
    expect(svc.machine('fan-1')).toMatchObject({
      status: 'no_model',
      detail: 'no model of fan promoted yet: too few failures',
      score: null,
    });
    expect(svc.championVersion).toBe(`v0003 (${motorKind}), v0001 (pump)`);
    // A new champion for one kind leaves the other kind's model serving.
    svc.setChampions(
      new Map([...champions, ['pump', { version: 'v0001', meta: reg.failureMeta('v0001') }], ['fan', champions.get('pump')!]]),
      () => '',
    );
    clock.advance(1000);
    send('pump-1', PUMP, 8);
    send('motor-a', MOTOR, 8);
    await svc.tick();
    expect(svc.machine('motor-a')!.score!.model).toBe('v0003');
    expect(svc.machine('pump-1')!.score!.model).toBe('v0001');
  });
});
