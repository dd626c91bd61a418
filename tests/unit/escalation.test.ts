import { VerdictBook } from '../../src/core/verdict-book.js';
import { describe, expect, it } from 'vitest';
import { buildAlerts } from '../../src/alerts/build.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { validateConfig } from '../../src/vigil-config.js';
import { Lifecycle } from '../../src/core/lifecycle.js';
import { silentLogger } from '../../src/core/logger.js';
import { PresenceFeed } from '../../src/core/presence.js';
import { SensorMetadata } from '../../src/core/sensor-metadata.js';
import { FleetCap } from '../../src/ingest/fleet-cap.js';
import type { ScoringService } from '../../src/scoring/service.js';
import { openVigilState } from '../../src/state.js';
import { M1 } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';

const MIN = 60_000;
const SECRET = 'x'.repeat(16);

function setup(escalation: unknown, webhooks: unknown[] = []) {
  const config = validateConfig(
    {
      alerts: { escalation, checkInterval: '10s' },
      notify: {
        mqtt: { enabled: true },
        webhooks: [{ name: 'ops', url: 'http://127.0.0.1:1/ops', secret: SECRET }, ...webhooks],
      },
    },
    { cwd: process.cwd(), origin: 'test' },
  );
  const clock = new ManualClock();
  const life = new Lifecycle(clock, silentLogger());
  const db = openVigilState(':memory:');
  const stage = buildAlerts(
    config,
    {
      db,
      fleet: new FleetCap(100),
      scoring: { onScore: () => undefined, onHealth: () => undefined } as unknown as ScoringService,
      publisher: { publish: () => Promise.resolve() },
      metadata: new SensorMetadata(),
      presence: new PresenceFeed(),
      verdicts: new VerdictBook(db),
    },
    life,
  );
  const events: AlertEvent[] = [];
  stage.engine.on('event', (e: AlertEvent) => events.push(e));
  const open = (severity: 'warning' | 'critical') =>
    stage.store.open({ machine: M1, kind: 'machine_stale', severity, message: 'no data', details: {} }, clock.now()).alert.id;
  const deliveries = (type: string) =>
    stage.store.deliveries
      .list({ limit: 100 })
      .filter((d) => stage.store.events.get(d.eventId)?.type === type)
      .map((d) => d.channel)
      .sort();
  return { stage, clock, events, open, deliveries };
}

describe('alert escalation', () => {
  const rules = {
    warning: [{ after: '30m', raiseTo: 'critical', notify: ['webhook:oncall'] }],
    critical: [{ after: '45m', notify: ['webhook:oncall', 'mqtt'] }],
  };
  const oncall = { name: 'oncall', url: 'http://127.0.0.1:1/oncall', secret: SECRET, escalationOnly: true };

  it('raises an unacknowledged warning, tells the second channel, records it; then the critical step', () => {
    const { stage, clock, events, open, deliveries } = setup(rules, [oncall]);
    const id = open('warning');
    // The escalation-only channel hears nothing of ordinary changes.
    expect(deliveries('opened')).toEqual(['mqtt', 'webhook:ops']);
    clock.advance(29 * MIN);
    expect(stage.store.get(id)!.escalations).toEqual([]);
    clock.advance(MIN);
    let alert = stage.store.get(id)!;
    expect(alert.severity).toBe('critical');
    expect(alert.escalations).toEqual([{ step: 'warning:0', at: clock.now(), raisedTo: 'critical', channels: ['webhook:oncall'] }]);
    expect(deliveries('escalated')).toEqual(['webhook:oncall']);
    expect(events.filter((e) => e.type === 'escalated')).toHaveLength(1);
    // A repeat of the condition at warning does not lower a raised severity.
    stage.store.update(id, { severity: 'warning', message: 'still no data', details: {} }, clock.now());
    expect(stage.store.get(id)!.severity).toBe('critical');
    clock.advance(15 * MIN);
    alert = stage.store.get(id)!;
    expect(alert.escalations.map((e) => e.step)).toEqual(['warning:0', 'critical:0']);
    expect(deliveries('escalated')).toEqual(['mqtt', 'webhook:oncall', 'webhook:oncall']);
    // Each step once.
    clock.advance(120 * MIN);
    expect(stage.store.get(id)!.escalations).toHaveLength(2);
    expect(stage.escalator.counters).toEqual({ escalations: 2, raised: 1 });
  });

  it('acknowledging stops escalation', () => {
    const { stage, clock, open } = setup(rules, [oncall]);
    const id = open('warning');
    clock.advance(20 * MIN);
    stage.engine.acknowledge(id, 'tech', 'on it');
    clock.advance(120 * MIN);
    const a = stage.store.get(id)!;
    expect(a.severity).toBe('warning');
    expect(a.escalations).toEqual([]);
  });

  it('a critical alert open past both thresholds at once takes its steps in order', () => {
    const { stage, clock, open } = setup({ critical: [{ after: '10m' }, { after: '20m', notify: ['mqtt'] }] });
    const id = open('critical');
    clock.advance(25 * MIN);
    expect(stage.store.get(id)!.escalations.map((e) => [e.step, e.channels])).toEqual([
      ['critical:0', ['webhook:ops', 'mqtt']],
      ['critical:1', ['mqtt']],
    ]);
  });

  it('refuses a step that names a channel that does not exist', () => {
    expect(() => setup({ warning: [{ after: '5m', notify: ['webhook:nobody'] }] })).toThrow(/webhook:nobody, which is not a channel/);
  });
});
