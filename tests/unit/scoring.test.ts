import { scoringHistories } from '../support/model-meta.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { Sample } from '../../src/core/types.js';
import { alignToGrid } from '../../src/features/align.js';
import { applyNormalisation, type Normalisation } from '../../src/features/normalize.js';
import { lastWindow } from '../../src/features/windows.js';
import { loadTf, quietTfWarnings, type TF } from '../../src/model/backend.js';
import { buildLstm, predict } from '../../src/model/lstm.js';
import path from 'node:path';
import type { InferenceClient } from '../../src/scoring/inference-client.js';
import { MachineWindow } from '../../src/scoring/machine-window.js';
import { ScoreHistory } from '../../src/scoring/score-history.js';
import { ScoringService, topContributions, type MachineScore } from '../../src/scoring/service.js';
import { openVigilState } from '../../src/state.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { M1, tempDir } from '../support/fixtures.js';
import { FleetCap } from '../../src/ingest/fleet-cap.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { ManualClock } from '../support/manual-clock.js';
import { testMeta } from '../support/model-meta.js';

const NORM: Normalisation = { sensors: ['a', 'b', 'c'], mean: [10, 0, 5], std: [2, 1, 1], dropped: [] };
const STEP = 1000;
const WINDOW = 6;

/** Two readings per step with a wobble, so step means differ from single readings. */
function readings(fromStep: number, steps: number, machine = M1): Sample[] {
  const out: Sample[] = [];
  for (let k = fromStep; k < fromStep + steps; k++) {
    out.push({ machine, ts: k * STEP + 100, values: { a: 10 + Math.sin(k), b: k % 3, c: 5 } });
    out.push({ machine, ts: k * STEP + 600, values: { a: 11 + Math.sin(k), b: (k % 3) + 1 } });
  }
  return out;
}

describe('score history', () => {
  it('keeps a round in one write, answers a machine oldest first within its range, and prunes past its retention', () => {
    const history = new ScoreHistory(openVigilState(':memory:'), 10_000);
    history.record([
      { machine: 'm1', dataTs: 1000, at: 5000, probability: 0.1, rulSteps: 9, model: 'v0001' },
      { machine: 'm1', dataTs: 2000, at: 6000, probability: 0.2, rulSteps: 8, model: 'v0001' },
      { machine: 'm2', dataTs: 2000, at: 6000, probability: 0.9, rulSteps: 1, model: 'v0001' },
    ]);
    history.record([{ machine: 'm1', dataTs: 3000, at: 20_000, probability: 0.3, rulSteps: 7, model: 'v0002' }]);
    expect(history.history('m1', -Infinity, Infinity, 2).map((h) => h.dataTs)).toEqual([2000, 3000]);
    expect(history.history('m1', 1500, 2500, 10)).toEqual([{ dataTs: 2000, at: 6000, probability: 0.2, rulSteps: 8, model: 'v0001' }]);
    history.prune(20_000);
    expect(history.history('m1', -Infinity, Infinity, 10).map((h) => h.dataTs)).toEqual([3000]);
    expect(history.history('m2', -Infinity, Infinity, 10)).toEqual([]);
  });
});

describe('machine window', () => {
  it('builds exactly the window training builds from the same readings (one grid, one fill rule)', () => {
    const w = new MachineWindow(M1, STEP, WINDOW + 4);
    const samples = readings(100, 12);
    for (const s of samples) w.add(s);
    const r = w.window(NORM, WINDOW, 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.endTs).toBe(112 * STEP);
    const { segments } = alignToGrid('m1', samples, NORM.sensors, STEP, 2);
    expect(Array.from(r.x)).toEqual(Array.from(lastWindow(applyNormalisation(segments.at(-1)!, NORM), WINDOW)));
  });

  it('says why it cannot score yet: too few steps, a gap that broke the sequence, a reset by a failure', () => {
    const w = new MachineWindow(M1, STEP, WINDOW + 4);
    expect(w.window(NORM, WINDOW, 2)).toEqual({ ok: false, reason: 'no data yet' });
    for (const s of readings(0, 4)) w.add(s);
    expect(w.window(NORM, WINDOW, 2)).toMatchObject({ ok: false, reason: expect.stringMatching(/warming up: 4 of 6/) });
    for (const s of readings(4, 10)) w.add(s);
    expect(w.window(NORM, WINDOW, 2).ok).toBe(true);
    // Ten silent steps: longer than the fill limit, so the old run does not continue.
    for (const s of readings(24, 3)) w.add(s);
    expect(w.window(NORM, WINDOW, 2)).toMatchObject({ ok: false });
    for (const s of readings(27, 3)) w.add(s);
    expect(w.window(NORM, WINDOW, 2).ok).toBe(true);
    w.reset(30 * STEP);
    for (const s of readings(35, 3)) w.add(s);
    expect(w.window(NORM, WINDOW, 2)).toMatchObject({ ok: false });
    expect(w.latest().a?.ts).toBe(37 * STEP + 600);
    // A late reading of an earlier step joins that step's mean.
    w.add({ machine: M1, ts: 36 * STEP + 900, values: { a: 99 } });
    expect(w.latest().a?.ts).toBe(37 * STEP + 600);
  });

  it('stays bounded by the window whatever order readings come in, and a late reading does not rewind it', () => {
    const keep = WINDOW + 4;
    const w = new MachineWindow(M1, STEP, keep);
    const live = readings(10_000, 12);
    for (const s of live) w.add(s);
    const before = w.window(NORM, WINDOW, 2);
    expect(before.ok).toBe(true);
    // A bridge backfilling: 20,000 readings stamped anywhere in the 10,000 steps before, in random order.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let late = 0;
    for (let i = 0; i < 20_000; i++) {
      const out = w.add({ machine: M1, ts: Math.floor(rand() * 10_000 * STEP), values: { a: rand(), b: rand() } });
      if (out.late) late++;
      expect(w.heldSteps).toBeLessThanOrEqual(keep + 1);
    }
    expect(late).toBe(20_000);
    expect(w.window(NORM, WINDOW, 2)).toEqual(before);
    expect(w.latest().a?.ts).toBe(10_011 * STEP + 600);
  });

  it('holds at most the window when a backfill arrives newest-first or shuffled before any live data', () => {
    const keep = WINDOW + 4;
    const w = new MachineWindow(M1, STEP, keep);
    const history = readings(0, 2_000).reverse();
    let late = 0;
    for (const s of history) if (w.add(s).late) late++;
    expect(w.heldSteps).toBeLessThanOrEqual(keep + 1);
    // Newest first: the first step sets the window; everything older than it is late.
    expect(late).toBe(history.length - 2 * (keep + 1));
  });

  it('a failure ends the run at its own time: older events drop nothing, a later one drops all, and readings from before it are late', () => {
    const w = new MachineWindow(M1, STEP, WINDOW + 4);
    for (const s of readings(100, 12)) w.add(s);
    const x = w.window(NORM, WINDOW, 2);
    w.reset(50 * STEP); // recorded long after, or backfilled: the window is already past it
    expect(w.window(NORM, WINDOW, 2)).toEqual(x);
    w.reset(112 * STEP); // the failure came after the last reading
    expect(w.window(NORM, WINDOW, 2)).toEqual({ ok: false, reason: 'no data yet' });
    expect(w.add({ machine: M1, ts: 111 * STEP + 5, values: { a: 1 } }).late).toBe(true);
    expect(w.add({ machine: M1, ts: 112 * STEP + 5, values: { a: 1 } }).late).toBe(false);
  });

  it('keeps at most its sensor cap per machine; more names are counted, not tracked', () => {
    const w = new MachineWindow(M1, STEP, WINDOW + 4, undefined, 3);
    const out = w.add({ machine: M1, ts: 0, values: { a: 1, b: 2, c: 3, d: 4, e: 5 } });
    expect(out).toEqual({ late: false, untracked: 2 });
    expect(Object.keys(w.latest())).toEqual(['a', 'b', 'c']);
  });

  it('takes sensors that appear later, in the middle of a step, and more of them than it first made room for', () => {
    const names = Array.from({ length: 40 }, (_, i) => `s${i}`);
    const norm: Normalisation = { sensors: names, mean: names.map(() => 1), std: names.map(() => 2), dropped: [] };
    const samples: Sample[] = [];
    for (let k = 0; k < 12; k++) {
      // Each step first carries the first ten sensors, then all forty: a step widens as sensors appear.
      samples.push({ machine: M1, ts: k * STEP + 100, values: Object.fromEntries(names.slice(0, 10).map((n, i) => [n, k + i])) });
      samples.push({ machine: M1, ts: k * STEP + 500, values: Object.fromEntries(names.map((n, i) => [n, k * i - 3])) });
    }
    const w = new MachineWindow(M1, STEP, WINDOW + 4);
    for (const s of samples) w.add(s);
    const r = w.window(norm, WINDOW, 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { segments } = alignToGrid('m1', samples, names, STEP, 2);
    expect(Array.from(r.x)).toEqual(Array.from(lastWindow(applyNormalisation(segments.at(-1)!, norm), WINDOW)));
    expect(w.latest().s39).toEqual({ value: 11 * 39 - 3, ts: 11 * STEP + 500 });
    expect(Object.keys(w.latest())).toHaveLength(40);
  });

  it('names the model inputs a machine sent no reading of, which are scored at their training mean', () => {
    const w = new MachineWindow(M1, STEP, WINDOW + 4);
    const withoutC = readings(0, 10).map((s) => ({
      ...s,
      values: Object.fromEntries(Object.entries(s.values).filter(([name]) => name !== 'c')),
    }));
    for (const s of withoutC) w.add(s);
    const r = w.window(NORM, WINDOW, 2);
    expect(r).toMatchObject({ ok: true, missing: ['c'] });
    if (!r.ok) return;
    expect(Array.from({ length: WINDOW }, (_, k) => r.x[k * 3 + 2])).toEqual(new Array(WINDOW).fill(0));
    // One reading of c anywhere since the last gap is carried over the window: not missing.
    w.add({ machine: M1, ts: 3 * STEP + 50, values: { c: 5 } });
    expect(w.window(NORM, WINDOW, 2)).toMatchObject({ ok: true, missing: [] });
  });

  it('ranks sensors by how much holding them at their mean changes p(failure)', () => {
    // Only sensors that raise the risk, most first: c lowers it (0.9 without it) and is left out.
    expect(topContributions(0.8, Float32Array.from([0.79, 0.2, 0.9]), ['a', 'b', 'c'], 2).map((t) => t.sensor)).toEqual(['b', 'a']);
    expect(topContributions(0.5, Float32Array.from([0.6, 0.7]), ['a', 'b'], 2)).toEqual([]);
  });
});

describe('scoring service state', () => {
  it('keeps windows for tracked machines only, counts late readings, and says how many machines are in each status without walking them', () => {
    const clock = new ManualClock();
    const db = openVigilState(':memory:');
    const fleet = new FleetCap(2);
    for (const id of ['m1', 'm2', 'm3']) fleet.admit(id);
    const svc = new ScoringService(
      {} as InferenceClient,
      scoringHistories(db, 1),
      clock,
      silentLogger(),
      { intervalMs: 1000, maxBatch: 8, topSensors: 0, stepMs: STEP, windowSteps: WINDOW, maxGapSteps: 2 },
      tempDir(),
      fleet,
    );
    for (const id of ['m1', 'm2', 'm3']) svc.observe({ samples: readings(100, 12, { ...M1, machine: id }), events: [] });
    expect(svc.counts()).toEqual({ machines: 2, health: 0, scored: 0, warming_up: 0, no_model: 2, down: 0 });
    expect(svc.machine('m3')).toBeNull();
    svc.observe({ samples: readings(0, 10), events: [] });
    expect(svc.stats.lateReadings).toBe(50);
    db.close();
  });
});

describe('scoring service seeding', () => {
  it('after a restart seeds the machines still sending, most recent first, and leaves the fleet cap to them', async () => {
    const clock = new ManualClock();
    const db = openVigilState(':memory:');
    const store = new SqliteSensorStore(path.join(tempDir(), 'sensors.db'));
    await store.open();
    const now = clock.now();
    const at = (machine: string, lastTs: number) => readings(Math.floor(lastTs / STEP) - 5, 5, { ...M1, machine });
    // A machine silent for a day, and two still sending.
    await store.write({
      samples: [...at('old', now - 86_400_000), ...at('live-a', now - 2 * STEP), ...at('live-b', now - 4 * STEP)],
      events: [],
    });
    const fleet = new FleetCap(1);
    const svc = new ScoringService(
      {} as InferenceClient,
      scoringHistories(db, 1),
      clock,
      silentLogger(),
      { intervalMs: 1000, maxBatch: 8, topSensors: 0, stepMs: STEP, windowSteps: WINDOW, maxGapSteps: 2 },
      tempDir(),
      fleet,
    );
    await svc.seed(store);
    expect(svc.machines().map((m) => m.ref.machine)).toEqual(['live-a']);
    expect(fleet.has('old')).toBe(false);
    await store.close();
    db.close();
  });
});

describe('scoring service', () => {
  let tf: TF;
  let inference: InferenceClient;
  beforeAll(async () => {
    quietTfWarnings();
    ({ tf } = await loadTf('cpu'));
    // The worker runs compiled code (dist/, built by `npm test`), as in the daemon.
    const { InferenceClient: Client } = (await import(
      path.resolve('dist/src/scoring/inference-client.js')
    )) as typeof import('../../src/scoring/inference-client.js');
    inference = new Client('cpu');
  });
  afterAll(async () => inference.close());

  const spec = { windowSteps: WINDOW, features: 3, units: [5, 4], dropout: 0, learningRate: 0.01, recurrentActivation: 'sigmoid' as const };

  it('says "no model" before a champion exists, then scores in batches with the champion, explains, stores history, and switches to a new champion without a restart', async () => {
    const dir = tempDir('vigil-scoring-models-');
    const registry = new ModelRegistry(dir);
    const meta = (v: string) => testMeta(v, { stepMs: STEP, window: WINDOW, rulCap: 100, normalisation: NORM, sensors: NORM.sensors });
    const m1 = buildLstm(tf, { ...spec, seed: 1 });
    const m2 = buildLstm(tf, { ...spec, seed: 2 });
    await registry.save(tf, m1, meta('v0001'));
    await registry.save(tf, m2, meta('v0002'));

    const clock = new ManualClock();
    const db = openVigilState(':memory:');
    const svc = new ScoringService(
      inference,
      scoringHistories(db, 86_400_000),
      clock,
      silentLogger(),
      { intervalMs: 5000, maxBatch: 2, topSensors: 2, stepMs: STEP, windowSteps: WINDOW, maxGapSteps: 2 },
      dir,
    );
    const heard: Array<{ machine: string; score: MachineScore; threshold: number }> = [];
    svc.onScore((m, score, threshold) => heard.push({ machine: m.machine, score, threshold }));
    const machines = ['m1', 'm2', 'm3'].map((id) => ({ ...M1, machine: id }));
    for (const m of machines) svc.observe({ samples: readings(0, 10, m), events: [] });
    await svc.tick();
    expect(svc.machines().map((m) => m.status)).toEqual(['no_model', 'no_model', 'no_model']);

    svc.setChampion({ version: 'v0001', meta: meta('v0001') });
    for (const m of machines) svc.observe({ samples: readings(10, 1, m), events: [] });
    await svc.tick();
    expect(svc.stats.lastError).toBeNull();
    expect(svc.stats.batches).toBe(2); // three machines, at most two per predict call
    const s1 = svc.machine('m1')!;
    expect(s1.status).toBe('scored');
    const expected = (() => {
      const w = new MachineWindow(M1, STEP, WINDOW + 4);
      for (const s of readings(0, 11)) w.add(s);
      const r = w.window(NORM, WINDOW, 2);
      if (!r.ok) throw new Error(r.reason);
      return predict(tf, m1, r.x, 1, WINDOW, 3);
    })();
    expect(s1.score!.probability).toBeCloseTo(expected.p[0]!, 5);
    expect(s1.score!.rulSteps).toBeCloseTo(Math.min(100, Math.max(0, expected.rul[0]! * 100)), 3);
    // The explanation lists sensors that raise the risk, at most topSensors of them.
    expect(s1.score!.topSensors.length).toBeLessThanOrEqual(2);
    for (const t of s1.score!.topSensors) expect(t.contribution).toBeGreaterThan(0);
    expect(s1.score!.model).toBe('v0001');
    expect(s1.score!.missingInputs).toEqual([]);
    expect(svc.stats.scoredWithMissingInputs).toBe(0);
    expect(heard).toHaveLength(3);
    expect(heard[0]!.threshold).toBe(0.5);
    expect(svc.history('m1', -Infinity, Infinity, 10)).toHaveLength(1);

    // Throttled: a new step within the interval is not scored again yet.
    svc.observe({ samples: readings(11, 1), events: [] });
    await svc.tick();
    expect(heard).toHaveLength(3);
    clock.advance(5000);
    await svc.tick();
    expect(heard).toHaveLength(4);

    registry.promote('v0002', 'test');
    svc.setChampion({ version: 'v0002', meta: meta('v0002') });
    clock.advance(5000);
    svc.observe({ samples: readings(12, 1), events: [] });
    await svc.tick();
    expect(svc.machine('m1')!.score!.model).toBe('v0002');
    expect(svc.history('m1', -Infinity, Infinity, 10).map((h) => h.model)).toEqual(['v0001', 'v0001', 'v0002']);

    // A machine that never sends one of the model's inputs is scored, says which, and is counted.
    const m4 = { ...M1, machine: 'm4' };
    svc.observe({
      samples: readings(0, 13, m4).map((r) => ({
        ...r,
        values: { a: r.values.a!, ...(r.values.b !== undefined ? { b: r.values.b } : {}) },
      })),
      events: [],
    });
    clock.advance(5000);
    await svc.tick();
    expect(svc.machine('m4')!.score!.missingInputs).toEqual(['c']);
    expect(svc.stats.scoredWithMissingInputs).toBe(1);

    // A failure: the machine is down, not scored (its last score said nothing about a broken machine),
    // whatever it still sends, until a repair; then it waits for a fresh window.
    const scoredBefore = svc.stats.scored;
    svc.observe({ samples: [], events: [{ machine: M1, ts: 13 * STEP, type: 'failure' }] });
    clock.advance(5000);
    svc.observe({ samples: readings(14, 2), events: [] });
    await svc.tick();
    expect(svc.machine('m1')).toMatchObject({ status: 'down', score: null, detail: expect.stringMatching(/^down since the failure at /) });
    expect(svc.counts().down).toBe(1);
    expect(svc.topScores(10).map((t) => t.ref.machine)).not.toContain('m1');
    expect(svc.stats.scored).toBe(scoredBefore + 0);
    // A repair dated before the failure (recorded out of order) does not bring it back; one after it does.
    svc.observe({ samples: [], events: [{ machine: M1, ts: 12 * STEP, type: 'repair' }] });
    expect(svc.machine('m1')!.status).toBe('down');
    svc.observe({ samples: [], events: [{ machine: M1, ts: 16 * STEP, type: 'repair' }] });
    clock.advance(5000);
    svc.observe({ samples: readings(17, 2), events: [] });
    await svc.tick();
    expect(svc.machine('m1')!.status).toBe('warming_up');
    expect(svc.counts().down).toBe(0);
    // A failure far older than the window (backfilled) does not take a running machine down.
    svc.observe({ samples: [], events: [{ machine: { ...M1, machine: 'm2' }, ts: -1000 * STEP, type: 'failure' }] });
    expect(svc.machine('m2')!.status).not.toBe('down');

    // A champion whose files cannot be read: machines say so, and the load is retried after a pause, not every tick.
    svc.setChampion({ version: 'v0009', meta: meta('v0009') });
    await svc.tick();
    expect(svc.machine('m2')).toMatchObject({ status: 'no_model', detail: expect.stringMatching(/champion v0009 cannot be loaded/) });
    const errors = svc.stats.errors;
    await svc.tick();
    expect(svc.stats.errors).toBe(errors);
    clock.advance(60_000);
    await svc.tick();
    expect(svc.stats.errors).toBe(errors + 1);
    db.close();
  });
});
