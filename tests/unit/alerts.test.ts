import { describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { AlertEngine, type RiskScore } from '../../src/alerts/engine.js';
import { QualityMonitor } from '../../src/alerts/quality.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { openVigilState } from '../../src/state.js';
import { M1, sample, tempDir } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';
import path from 'node:path';

const BACKFILL_AGE = 3_600_000;
const RISK = {
  high: 0.7,
  low: 0.3,
  openAfter: 2,
  closeAfter: 2,
  criticalProbability: 0.9,
  criticalRul: 10,
  lateFailureGraceMs: 60_000,
  backfillAgeMs: BACKFILL_AGE,
  silentMachinesSummary: 25,
  stepMs: 3_600_000,
};
const QUALITY = {
  staleAfterMs: 60_000,
  sensorStaleAfterMs: 120_000,
  flatlineAfterMs: 300_000,
  flatlineMinReadings: 5,
  ranges: [{ sensor: 'temp', max: 90 }],
  backfillAgeMs: BACKFILL_AGE,
};
/** The tests' clock starts here: data stamped at T0 + x is live. */
const T0 = new ManualClock().now();

function setup(file = ':memory:', clock = new ManualClock()) {
  const db = openVigilState(file);
  const store = new AlertStore(db, ['webhook:ops', 'mqtt']);
  const quality = new QualityMonitor(QUALITY);
  const engine = new AlertEngine(store, quality, RISK, clock, silentLogger());
  const events: AlertEvent[] = [];
  engine.on('event', (e: AlertEvent) => events.push(e));
  return { db, store, quality, engine, clock, events };
}

const score = (p: number, dataTs: number, rulSteps = 40): RiskScore => ({
  machine: M1,
  dataTs: T0 + dataTs,
  probability: p,
  rulSteps,
  model: 'v0001',
  topSensors: [{ sensor: 'vib', contribution: 0.4 }],
});

describe('alert engine and lifecycle', () => {
  it('opens a failure-risk alert after k high scores, updates it, and a failure resolves it as a true positive with its lead time', () => {
    const { engine, store, events } = setup();
    engine.onScore(score(0.8, 1_000), 0.5);
    expect(store.unresolved()).toHaveLength(0);
    engine.onScore(score(0.8, 2_000), 0.5);
    const open = store.findUnresolved('m1', 'failure_risk')!;
    expect(open.severity).toBe('warning');
    // 40 steps of an hour each: the text speaks time, not steps.
    expect(open.message).toBe('m1: failure risk 80%, remaining life about 40 h (driven by vib)');
    engine.onScore(score(0.95, 3_000), 0.5);
    expect(store.get(open.id)!.severity).toBe('critical');
    expect(store.get(open.id)!.updates).toBe(1);
    engine.onScore(score(0.96, 4_000), 0.5);
    // Same severity: updated silently, no extra notification.
    expect(events.map((e) => e.type)).toEqual(['opened', 'updated']);
    engine.onMachineEvent({ machine: M1, ts: T0 + 10_000, type: 'failure' });
    const done = store.get(open.id)!;
    expect(done.state).toBe('resolved');
    expect(done.resolved?.resolution).toBe('failure');
    expect(done.outcome).toBe('true_positive');
    expect(done.leadMs).toBe(8_000);
    expect(store.figures.over()).toMatchObject({
      truePositives: 1,
      falseAlarms: 0,
      missedFailures: 0,
      precision: 1,
      recall: 1,
      meanLeadMs: 8_000,
    });
  });

  it('keeps at most one unresolved alert per machine and kind, and writes one delivery per channel per event', () => {
    const { engine, store, db } = setup();
    for (let i = 0; i < 6; i++) engine.onScore(score(0.8, i), 0.5);
    expect(store.unresolved()).toHaveLength(1);
    const opened = store.unresolved()[0]!;
    expect(() => store.open({ machine: M1, kind: 'failure_risk', severity: 'warning', message: 'dup', details: {} }, 0)).toThrow(/UNIQUE/);
    const rows = db.prepare('SELECT channel FROM deliveries ORDER BY id').all() as Array<{ channel: string }>;
    expect(rows.map((r) => r.channel)).toEqual(['webhook:ops', 'mqtt']);
    expect(opened.id).toBeGreaterThan(0);
  });

  it('closes by itself after m low scores and counts a false alarm; a failure soon after turns it into a true positive', () => {
    const { engine, store, clock } = setup();
    engine.onScore(score(0.8, 1_000), 0.5);
    engine.onScore(score(0.8, 2_000), 0.5);
    engine.onScore(score(0.1, 3_000), 0.5);
    engine.onScore(score(0.1, 4_000), 0.5);
    const closed = store.list({ limit: 10 })[0]!;
    expect(closed.resolved?.resolution).toBe('recovered');
    expect(closed.outcome).toBe('false_alarm');
    expect(store.figures.over().precision).toBe(0);
    clock.advance(30_000);
    engine.onMachineEvent({ machine: M1, ts: T0 + 9_000, type: 'failure' });
    expect(store.get(closed.id)!.outcome).toBe('true_positive');
    expect(store.figures.over()).toMatchObject({ truePositives: 1, falseAlarms: 0, missedFailures: 0 });
  });

  it('judges a failure after an alert closed in data time: a fast replay neither hides a miss nor loses an announced one', () => {
    // Replayed fast: data time runs far ahead of the daemon clock.
    const replay = setup();
    replay.engine.onScore(score(0.8, 1_000), 0.5);
    replay.engine.onScore(score(0.8, 2_000), 0.5);
    replay.engine.onScore(score(0.1, 3_000), 0.5);
    replay.engine.onScore(score(0.1, 4_000), 0.5);
    // Five minutes of data after the risk went away (grace 1 min), a second of daemon time: a miss.
    replay.engine.onMachineEvent({ machine: M1, ts: T0 + 4_000 + 300_000, type: 'failure' });
    expect(replay.store.figures.over()).toMatchObject({ truePositives: 0, falseAlarms: 1, missedFailures: 1 });

    // Slow the other way: 30 s of data after it closed, an hour of daemon time: announced.
    const slow = setup();
    slow.engine.onScore(score(0.8, 1_000), 0.5);
    slow.engine.onScore(score(0.8, 2_000), 0.5);
    slow.engine.onScore(score(0.1, 3_000), 0.5);
    slow.engine.onScore(score(0.1, 4_000), 0.5);
    slow.clock.advance(3_600_000);
    slow.engine.onMachineEvent({ machine: M1, ts: T0 + 34_000, type: 'failure' });
    expect(slow.store.figures.over()).toMatchObject({ truePositives: 1, falseAlarms: 0, missedFailures: 0 });
  });

  it('an alert keeps the score it opened with and its peak, each with its data time, beside the latest', () => {
    const { engine, store } = setup();
    engine.onScore(score(0.75, 1_000, 50), 0.5);
    engine.onScore(score(0.8, 2_000, 45), 0.5);
    engine.onScore(score(0.95, 3_000, 20), 0.5);
    engine.onScore(score(0.85, 4_000, 18), 0.5);
    const alert = store.list({ limit: 1 })[0]!;
    expect(alert.details).toMatchObject({
      probability: 0.85,
      rulSteps: 18,
      dataTs: T0 + 4_000,
      opened: { probability: 0.8, rulSteps: 45, dataTs: T0 + 2_000 },
      peak: { probability: 0.95, rulSteps: 20, dataTs: T0 + 3_000 },
    });
  });

  it('records a failure no alert announced as a miss, once', () => {
    const { engine, store } = setup();
    engine.onMachineEvent({ machine: M1, ts: T0 + 5_000, type: 'failure' });
    engine.onMachineEvent({ machine: M1, ts: T0 + 5_000, type: 'failure' });
    engine.onMachineEvent({ machine: M1, ts: T0 + 6_000, type: 'repair' });
    expect(store.figures.over()).toMatchObject({ missedFailures: 1, recall: 0, precision: null });
  });

  it('goes open → acknowledged → resolved by a technician; wrong transitions are refused', () => {
    const { engine, store, events } = setup();
    engine.onScore(score(0.8, 1), 0.5);
    engine.onScore(score(0.8, 2), 0.5);
    const id = store.unresolved()[0]!.id;
    engine.acknowledge(id, 'ana', 'checking bearing');
    expect(store.get(id)!.acknowledged).toMatchObject({ by: 'ana', note: 'checking bearing' });
    expect(() => engine.acknowledge(id, 'bo', null)).toThrow(/acknowledged; cannot acknowledge/);
    engine.resolve(id, 'ana', 'bearing replaced');
    expect(store.get(id)!.resolved).toMatchObject({ by: 'ana', resolution: 'technician', note: 'bearing replaced' });
    expect(() => engine.resolve(id, 'ana', null)).toThrow(/resolved; cannot resolve/);
    expect(() => engine.acknowledge(999, 'ana', null)).toThrow(/does not exist/);
    expect(events.map((e) => e.type)).toEqual(['opened', 'acknowledged', 'resolved']);
    // A new run of high scores after a manual close opens a new alert.
    engine.onScore(score(0.8, 3), 0.5);
    engine.onScore(score(0.8, 4), 0.5);
    expect(store.unresolved()).toHaveLength(1);
  });

  it('survives a restart: the persisted open alert is resumed, not duplicated', () => {
    const file = path.join(tempDir(), 'vigil.db');
    const first = setup(file);
    first.engine.onScore(score(0.8, 1), 0.5);
    first.engine.onScore(score(0.8, 2), 0.5);
    first.db.close();
    const second = setup(file);
    second.engine.onScore(score(0.8, 3), 0.5);
    second.engine.onScore(score(0.8, 4), 0.5);
    expect(second.store.list({ limit: 10 })).toHaveLength(1);
    second.engine.onScore(score(0.1, 5), 0.5);
    second.engine.onScore(score(0.1, 6), 0.5);
    expect(second.store.unresolved()).toHaveLength(0);
  });

  it('uses the champion threshold when none is configured', () => {
    const { store, quality, clock } = setup();
    const engine = new AlertEngine(store, quality, { ...RISK, high: null }, clock, silentLogger());
    engine.onScore(score(0.6, 1), 0.55);
    engine.onScore(score(0.6, 2), 0.55);
    expect(store.unresolved()).toHaveLength(1);
  });
});

describe('data-quality alerts', () => {
  it('raises and clears stale machine, stale sensor, flatline and out-of-range alerts from arrival times', () => {
    const { engine, quality, store, clock } = setup();
    const unresolved = () =>
      store
        .unresolved()
        .map((a) => `${a.kind}:${a.subject}`)
        .sort();
    // Six readings a minute apart: `stuck` never changes, `temp` is above its range.
    for (let i = 0; i < 6; i++) {
      if (i > 0) clock.advance(60_000);
      quality.observe(sample(clock.now(), { temp: 95 + i / 10, vib: i, stuck: 3 }), clock.now());
    }
    engine.checkQuality();
    expect(unresolved()).toEqual(['flatline:stuck', 'out_of_range:temp']);
    expect(store.findUnresolved('m1', 'out_of_range', 'temp')!.message).toMatch(/at 95.5, above 90/);
    // Silence: one machine alert; the sensor alerts stay as they were.
    clock.advance(61_000);
    engine.checkQuality();
    expect(unresolved()).toEqual(['flatline:stuck', 'machine_stale:', 'out_of_range:temp']);
    // Back, in range, without `stuck`: machine and range alerts clear; `stuck` goes stale later.
    quality.observe(sample(clock.now(), { temp: 50, vib: 9 }), clock.now());
    engine.checkQuality();
    expect(unresolved()).toEqual(['flatline:stuck']);
    clock.advance(60_000);
    quality.observe(sample(clock.now(), { temp: 50, vib: 8 }), clock.now());
    engine.checkQuality();
    expect(unresolved()).toEqual(['flatline:stuck', 'sensor_stale:stuck']);
    // It reports again with a new value: both clear.
    quality.observe(sample(clock.now(), { temp: 50, vib: 7, stuck: 4 }), clock.now());
    engine.checkQuality();
    expect(unresolved()).toEqual([]);
    expect(store.list({ state: 'resolved', limit: 10 }).every((a) => a.resolved?.resolution === 'recovered')).toBe(true);
  });
});

describe('backfill and live failures', () => {
  it('history replayed into a live daemon raises no stale alerts and counts no missed failures', () => {
    const { engine, quality, store, clock } = setup();
    // 100 engines' histories, stamped days before they arrive (a C-MAPSS replay), each ending in a failure.
    for (let u = 0; u < 100; u++) {
      const ref = { ...M1, machine: `engine-${u}` };
      for (let c = 0; c < 20; c++) quality.observe(sample(clock.now() - 5 * 86_400_000 + c * 60_000, { s1: c }, ref), clock.now());
      engine.onMachineEvent({ machine: ref, ts: clock.now() - 5 * 86_400_000 + 20 * 60_000, type: 'failure' });
    }
    clock.advance(10 * 60_000);
    engine.checkQuality();
    expect(store.unresolved()).toEqual([]);
    expect(store.figures.over()).toMatchObject({ missedFailures: 0, recall: null });
    expect(engine.counters.backfillFailures).toBe(100);
    expect(quality.stats.backfillReadings).toBe(2000); // one value each
  });

  it('a failure recorded hours after it happened counts when the machine was watched live then', () => {
    const { engine, quality, store, clock } = setup();
    quality.observe(sample(clock.now(), { s1: 1 }), clock.now());
    clock.advance(3 * 3_600_000);
    quality.observe(sample(clock.now(), { s1: 2 }), clock.now());
    // A technician enters a failure of two hours ago: older than the backfill age, but the machine was live.
    engine.onMachineEvent({ machine: M1, ts: clock.now() - 2 * 3_600_000, type: 'failure' });
    expect(store.figures.over()).toMatchObject({ missedFailures: 1 });
    // The same for a machine nobody watched then is history.
    engine.onMachineEvent({ machine: { ...M1, machine: 'other' }, ts: clock.now() - 2 * 3_600_000, type: 'failure' });
    expect(store.figures.over()).toMatchObject({ missedFailures: 1 });
  });

  it('scores of a backfilled window open no alert: an alert about the past helps nobody', () => {
    const { engine, store, clock } = setup();
    const old = (p: number, i: number): RiskScore => ({ ...score(p, 0), dataTs: clock.now() - 2 * BACKFILL_AGE + i });
    for (let i = 0; i < 5; i++) engine.onScore(old(0.95, i), 0.5);
    expect(store.unresolved()).toEqual([]);
    expect(engine.counters.backfillScores).toBe(5);
    engine.onScore(score(0.95, 1), 0.5);
    engine.onScore(score(0.95, 2), 0.5);
    expect(store.unresolved()).toHaveLength(1);
  });

  it('quality figures say their period, and count afresh after a reset', () => {
    const { engine, store, clock } = setup();
    engine.onMachineEvent({ machine: M1, ts: T0 + 1_000, type: 'failure' });
    expect(store.figures.over()).toMatchObject({ missedFailures: 1, period: { from: T0, to: null } });
    clock.advance(60_000);
    store.figures.reset(clock.now());
    expect(store.figures.over()).toMatchObject({ missedFailures: 0, recall: null, period: { from: T0 + 60_000 } });
    expect(store.figures.over({ from: 0 })).toMatchObject({ missedFailures: 1 });
  });
});

describe('many silent machines', () => {
  const fleet = (n: number) => Array.from({ length: n }, (_, i) => ({ ...M1, machine: `m${i}` }));

  it('summarises a mass silence in one gateway alert instead of one alert per machine, and hands the stragglers their own when it ends', () => {
    const { engine, quality, store, clock, events } = setup();
    const machines = fleet(300);
    for (const m of machines) quality.observe(sample(clock.now(), { v: 1 }, m), clock.now());
    engine.checkQuality();
    expect(store.unresolved()).toEqual([]);
    clock.advance(61_000);
    engine.checkQuality();
    const open = store.unresolved();
    expect(open.map((a) => a.kind)).toEqual(['machines_silent']);
    expect(open[0]!.message).toMatch(/^300 machines silent since .* \(of 300 watched\)$/);
    expect(events.filter((e) => e.type === 'opened')).toHaveLength(1);
    // All but three come back.
    for (const m of machines.slice(3)) quality.observe(sample(clock.now(), { v: 2 }, m), clock.now());
    engine.checkQuality();
    expect(
      store
        .unresolved()
        .map((a) => `${a.kind}:${a.machine.machine}`)
        .sort(),
    ).toEqual(['machine_stale:m0', 'machine_stale:m1', 'machine_stale:m2']);
    expect(store.list({ kind: 'machines_silent', limit: 5 })[0]!.resolved?.resolution).toBe('recovered');
  });

  it('below the summary threshold each silent machine gets its own alert', () => {
    const { engine, quality, store, clock } = setup();
    for (const m of fleet(5)) quality.observe(sample(clock.now(), { v: 1 }, m), clock.now());
    clock.advance(61_000);
    engine.checkQuality();
    expect(store.unresolved().map((a) => a.kind)).toEqual(new Array(5).fill('machine_stale'));
  });

  it('a check of a large fleet queries nothing for machines without alerts', () => {
    const { engine, quality, store, clock, db } = setup();
    for (const m of fleet(2_000)) quality.observe(sample(clock.now(), { v: 1, w: 2 }, m), clock.now());
    const prepare = db.prepare.bind(db);
    let prepared = 0;
    db.prepare = ((sql: string) => (prepared++, prepare(sql))) as typeof db.prepare;
    engine.checkQuality();
    clock.advance(1_000);
    engine.checkQuality();
    expect(prepared).toBe(0);
    expect(store.unresolved()).toEqual([]);
  });
});
