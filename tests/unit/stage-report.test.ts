import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { buildMetrics } from '../../src/api/metrics.js';
import { StatusSchema, composeReadiness, composeStatus } from '../../src/api/status-model.js';
import { Lifecycle } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/logger.js';
import { stageReport, type StageReport } from '../../src/core/stage-report.js';
import { ManualClock } from '../support/manual-clock.js';

describe('stage reports', () => {
  it('Prometheus reads each stage metric at scrape time: totals, gauges, labelled samples', async () => {
    let scored = 2;
    let lastMs: number | null = null;
    const report = stageReport({
      section: 'scoring',
      fields: { scoresTotal: Type.Integer() },
      read: () => ({ scoresTotal: scored }),
      metrics: [
        { name: 'vigil_test_scores_total', help: 'scores', type: 'counter', read: () => scored },
        { name: 'vigil_test_last_seconds', help: 'last', type: 'gauge', read: () => (lastMs === null ? null : lastMs / 1000) },
        { name: 'vigil_test_risk', help: 'risk', type: 'gauge', labelNames: ['machine'], read: () => [[{ machine: 'm' }, 0.4]] },
      ],
    });
    const metrics = buildMetrics(() => [report]);
    let text = await metrics.metrics();
    expect(text).toMatch(/# TYPE vigil_test_scores_total counter\nvigil_test_scores_total 2\n/);
    expect(text).toContain('# TYPE vigil_test_last_seconds gauge');
    expect(text).toMatch(/vigil_test_risk\{machine="m"\} 0\.4/);
    scored = 7;
    lastMs = 250;
    text = await metrics.metrics();
    // The stage's total, not a sum of scrapes.
    expect(text).toMatch(/^vigil_test_scores_total 7$/m);
    expect(text).toMatch(/^vigil_test_last_seconds 0\.25$/m);
  });

  it('several stages fill one status section; readiness gathers every reason', () => {
    const a: StageReport = {
      section: 'ingest',
      fields: {},
      read: () => ({ messagesReceived: 3 }),
      notReady: () => ['not subscribed to the MQTT broker'],
    };
    const b: StageReport = { section: 'ingest', fields: {}, read: () => ({ lateReadings: 1 }) };
    const c: StageReport = {
      section: null,
      fields: {},
      read: () => ({ ignored: true }),
      notReady: () => ['sensor store cannot be opened: locked'],
    };
    const s = composeStatus({ version: '1', startedAt: 0, now: 5000 }, [a, b, c]) as unknown as Record<string, unknown>;
    expect(s).toEqual({
      version: '1',
      startedAt: '1970-01-01T00:00:00.000Z',
      uptimeSeconds: 5,
      ingest: { messagesReceived: 3, lateReadings: 1 },
    });
    expect(composeReadiness([a, b, c])).toEqual({
      ready: false,
      reasons: ['not subscribed to the MQTT broker', 'sensor store cannot be opened: locked'],
    });
  });

  it("the status schema holds every stage's fields", () => {
    expect(Object.keys(StatusSchema.properties.ingest.properties)).toEqual(
      expect.arrayContaining(['messagesReceived', 'lateReadings', 'backfillReadings', 'untrackedMessages']),
    );
    expect(Object.keys(StatusSchema.properties.scoring.properties)).toEqual(expect.arrayContaining(['scoresTotal', 'eventLoopLagMs']));
    expect(Object.keys(StatusSchema.properties.alerts.properties)).toEqual(
      expect.arrayContaining(['quality', 'streams', 'streamClientsDropped']),
    );
  });
});

describe('lifecycle', () => {
  it('releases in reverse of building, each once, and a failing release does not stop the rest', async () => {
    const life = new Lifecycle(new ManualClock(0), silentLogger());
    const order: string[] = [];
    life.release('store', () => void order.push('store'));
    life.release('journal', () => {
      order.push('journal');
      throw new Error('disk gone');
    });
    life.release('mqtt', async () => {
      await Promise.resolve();
      order.push('mqtt');
    });
    await life.stop(1000);
    await life.stop(1000);
    expect(order).toEqual(['mqtt', 'journal', 'store']);
  });

  it('periodic jobs survive a failure and end with the release; sources start only when asked', async () => {
    const clock = new ManualClock(0);
    const life = new Lifecycle(clock, silentLogger());
    let runs = 0;
    life.every('job', 1000, () => {
      runs++;
      throw new Error('once in a while');
    });
    let started = false;
    life.whenRunning(() => {
      started = true;
    });
    clock.advance(2500);
    expect(runs).toBe(2);
    expect(started).toBe(false);
    await life.run();
    expect(started).toBe(true);
    await life.stop(1000);
    clock.advance(5000);
    expect(runs).toBe(2);
  });

  it('the shutdown deadline counts down from stop', async () => {
    const clock = new ManualClock(0);
    const life = new Lifecycle(clock, silentLogger());
    let left = -1;
    life.release('writer', () => {
      clock.advance(300);
      left = life.deadline.left();
    });
    expect(life.deadline.left()).toBe(Number.POSITIVE_INFINITY);
    await life.stop(1000);
    expect(left).toBe(700);
  });
});
