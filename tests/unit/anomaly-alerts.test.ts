import { describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { AnomalyAlerts, anomalyMessage } from '../../src/alerts/anomaly.js';
import { AlertEngine, AlertVerdictError } from '../../src/alerts/engine.js';
import { QualityMonitor } from '../../src/alerts/quality.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { VerdictBook } from '../../src/core/verdict-book.js';
import type { MachineHealth } from '../../src/scoring/index.js';
import { openVigilState } from '../../src/state.js';
import { M1 } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = new ManualClock().now();

function setup(watched = { failure: false, health: true }) {
  const clock = new ManualClock();
  const db = openVigilState(':memory:');
  const store = new AlertStore(db, ['mqtt']);
  const book = new VerdictBook(db);
  const events: AlertEvent[] = [];
  const anomaly = new AnomalyAlerts(
    store,
    book,
    {
      openAfter: 2,
      closeAfter: 2,
      hysteresis: 5,
      criticalAfterMs: 6 * HOUR,
      lateFailureGraceMs: 2 * HOUR,
      backfillAgeMs: 24 * HOUR,
      topSensors: 2,
    },
    clock,
    silentLogger(),
    (ev) => events.push(ev),
    (_machine, sensor) => (sensor === 'discharge_temp' ? { unit: '°C' } : null),
  );
  const quality = new QualityMonitor({
    staleAfterMs: 60_000,
    sensorStaleAfterMs: 120_000,
    flatlineAfterMs: 300_000,
    flatlineMinReadings: 5,
    ranges: [],
    backfillAgeMs: 24 * HOUR,
  });
  const engine = new AlertEngine(
    store,
    quality,
    {
      high: 0.7,
      low: 0.3,
      openAfter: 2,
      closeAfter: 2,
      criticalProbability: 0.9,
      criticalRul: 10,
      lateFailureGraceMs: 2 * HOUR,
      backfillAgeMs: 24 * HOUR,
      silentMachinesSummary: 25,
      stepMs: HOUR,
    },
    clock,
    silentLogger(),
    anomaly,
    () => watched,
  );
  engine.on('event', (e: AlertEvent) => events.push(e));
  return { clock, store, book, anomaly, engine, events };
}

const health = (index: number, dataTs: number, threshold = 40): MachineHealth => ({
  at: T0 + dataTs,
  dataTs: T0 + dataTs,
  windowStartTs: T0 + dataTs - 6 * HOUR,
  index,
  threshold,
  score: 0,
  model: 'v0001',
  deviations: [
    { sensor: 'discharge_temp', sigmas: 5.2, delta: 14.2 },
    { sensor: 'flow', sigmas: -3.1, delta: -9.04 },
    { sensor: 'speed', sigmas: 0.4, delta: 3 },
  ],
  missingInputs: [],
});

describe('anomaly alerts', () => {
  it('open after k low scores with the deviating sensors, turn critical with time, close with hysteresis', () => {
    const { anomaly, store, events } = setup();
    anomaly.onHealth(M1, health(30, 0), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')).toBeNull();
    // A score between threshold and threshold + hysteresis breaks the run.
    anomaly.onHealth(M1, health(60, HOUR), 'pump');
    anomaly.onHealth(M1, health(30, 2 * HOUR), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')).toBeNull();
    anomaly.onHealth(M1, health(35, 3 * HOUR), 'pump');
    const open = store.findUnresolved('m1', 'anomaly')!;
    expect(open.severity).toBe('warning');
    expect(open.message).toMatch(
      /^m1: health 35 \(alert below 40\) — discharge_temp 14\.2 °C above normal \(5\.2 σ\), flow 9\.0 below normal/,
    );
    expect(open.message).not.toMatch(/speed/);
    // Still low six hours of data later: critical.
    anomaly.onHealth(M1, health(36, 9 * HOUR), 'pump');
    expect(store.get(open.id)!.severity).toBe('critical');
    // 42 is above the threshold but within the hysteresis: stays open.
    anomaly.onHealth(M1, health(42, 10 * HOUR), 'pump');
    anomaly.onHealth(M1, health(42, 11 * HOUR), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')).not.toBeNull();
    anomaly.onHealth(M1, health(80, 12 * HOUR), 'pump');
    anomaly.onHealth(M1, health(80, 13 * HOUR), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')).toBeNull();
    expect(store.get(open.id)!.resolved?.resolution).toBe('recovered');
    expect(events.map((e) => e.type)).toEqual(['opened', 'updated', 'resolved']);
    // Far below the threshold is critical at once.
    anomaly.onHealth(M1, health(10, 20 * HOUR), 'pump');
    anomaly.onHealth(M1, health(10, 21 * HOUR), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')!.severity).toBe('critical');
  });

  it('keeps one debounce per machine, and no alert about backfilled history', () => {
    const { anomaly, store } = setup();
    const m2 = { ...M1, machine: 'm2' };
    anomaly.onHealth(M1, health(30, 0), 'pump');
    anomaly.onHealth(m2, health(30, 0), 'pump');
    anomaly.onHealth(M1, health(30, HOUR), 'pump');
    expect(store.findUnresolved('m1', 'anomaly')).not.toBeNull();
    expect(store.findUnresolved('m2', 'anomaly')).toBeNull();
    const old = -48 * HOUR;
    anomaly.onHealth(m2, health(10, old), 'pump');
    anomaly.onHealth(m2, health(10, old + HOUR), 'pump');
    expect(store.findUnresolved('m2', 'anomaly')).toBeNull();
  });

  it('a failure after an anomaly alert makes it an early warning with its lead time', () => {
    const { anomaly, engine, store } = setup();
    anomaly.onHealth(M1, health(30, 0), 'pump');
    anomaly.onHealth(M1, health(30, HOUR), 'pump');
    const id = store.findUnresolved('m1', 'anomaly')!.id;
    engine.onMachineEvent({ machine: M1, ts: T0 + 5 * HOUR, type: 'failure' });
    const done = store.get(id)!;
    expect(done.outcome).toBe('true_positive');
    expect(done.leadMs).toBe(4 * HOUR);
    const q = store.figures.over();
    expect(q.anomaly.truePositives).toBe(1);
    expect(q.anomaly.missedFailures).toBe(0);
    expect(anomaly.counters.earlyWarnings).toBe(1);
  });

  it('a failure nobody could have warned of is unwatched, one a watching model let pass is missed', () => {
    const unwatched = setup({ failure: false, health: false });
    unwatched.engine.onMachineEvent({ machine: M1, ts: T0, type: 'failure' });
    expect(unwatched.store.figures.over().unwatchedFailures).toBe(1);
    expect(unwatched.store.figures.over().anomaly.missedFailures).toBe(0);
    expect(unwatched.store.figures.over().missedFailures).toBe(0);
    const watched = setup({ failure: false, health: true });
    watched.engine.onMachineEvent({ machine: M1, ts: T0, type: 'failure' });
    expect(watched.store.figures.over().anomaly.missedFailures).toBe(1);
    expect(watched.store.figures.over().unwatchedFailures).toBe(0);
  });

  it('takes verdicts on acknowledge and resolve, records them for the next health run, and counts them per kind', () => {
    const { anomaly, engine, store, book, clock } = setup();
    anomaly.onHealth(M1, health(30, 0), 'pump');
    anomaly.onHealth(M1, health(30, HOUR), 'pump');
    const id = store.findUnresolved('m1', 'anomaly')!.id;
    clock.advance(1000);
    engine.acknowledge(id, 'ana', 'new setpoint', 'normal');
    expect(store.get(id)!.verdict?.verdict).toBe('normal');
    const resolved = engine.resolve(id, 'ana', 'new setpoint', 'normal');
    expect(resolved.alert.outcome).toBe('false_alarm');
    const [period] = book.periods(-Infinity);
    expect(period).toMatchObject({ machine: 'm1', kind: 'pump', verdict: 'normal', from: T0 - 5 * HOUR });
    expect(book.counts()).toEqual([{ kind: 'pump', verdict: 'normal', n: 1 }]);
    const q = store.figures.over();
    expect(q.anomaly.falseAlarms).toBe(1);
    expect(q.anomaly.verdicts).toEqual({ normal: 1, abnormal: 0, failure: 0 });
    // An abnormal verdict is a real problem: a true positive, and a period left out of normal.
    anomaly.onHealth(M1, health(30, 20 * HOUR), 'pump');
    anomaly.onHealth(M1, health(30, 21 * HOUR), 'pump');
    const second = store.findUnresolved('m1', 'anomaly')!.id;
    expect(engine.resolve(second, 'ana', 'fouled filter', 'abnormal').alert.outcome).toBe('true_positive');
    expect(book.periods(-Infinity).map((p) => p.verdict)).toEqual(['normal', 'abnormal']);
  });

  it('refuses a verdict on an alert of another kind', () => {
    const { engine, store } = setup();
    const ev = store.open({ machine: M1, kind: 'failure_risk', severity: 'warning', message: 'risk', details: {} }, T0);
    expect(() => engine.acknowledge(ev.alert.id, 'ana', null, 'normal')).toThrow(AlertVerdictError);
    expect(store.get(ev.alert.id)!.acknowledged).toBeNull();
  });

  it('takes a verdict from the events topic: the open alert, else the one just closed, else counted and logged', () => {
    const { anomaly, engine, store } = setup();
    anomaly.onHealth(M1, health(30, 0), 'pump');
    anomaly.onHealth(M1, health(30, HOUR), 'pump');
    const id = store.findUnresolved('m1', 'anomaly')!.id;
    engine.onMachineEvent({ machine: M1, ts: T0 + 2 * HOUR, type: 'abnormal', note: 'CMMS WO-118' });
    expect(store.get(id)!).toMatchObject({ verdict: { verdict: 'abnormal' }, outcome: 'true_positive' });
    expect(store.get(id)!.resolved?.by).toBe('events topic (CMMS WO-118)');
    // Already judged: a second verdict has nothing to settle.
    engine.onMachineEvent({ machine: M1, ts: T0 + 3 * HOUR, type: 'normal' });
    expect(anomaly.counters.verdictsWithoutAlert).toBe(1);
    expect(store.get(id)!.verdict?.verdict).toBe('abnormal');
  });
});

describe('anomaly message', () => {
  it('says which sensors, which way, how much in their unit, and since when', () => {
    const text = anomalyMessage('p1', { ...health(22, 6 * HOUR), dataTs: Date.UTC(2026, 0, 1, 6) }, Date.UTC(2026, 0, 1), 3, (s) =>
      s === 'discharge_temp' ? '°C' : undefined,
    );
    expect(text).toBe(
      'p1: health 22 (alert below 40) — discharge_temp 14.2 °C above normal (5.2 σ), flow 9.0 below normal (3.1 σ), speed 3.0 above normal (0.4 σ); since 2026-01-01 00:00 UTC (6 h)',
    );
  });
});
