import type Database from 'better-sqlite3';
import type { Alert, AlertEvent, AlertEventType } from '../types.js';
import type { Deliveries } from './deliveries.js';

/**
 * Every change of an alert as an event (`alert_events`), each with the alert as it was: what the
 * outbox delivers, and what an SSE client that reconnects catches up on.
 */
export class AlertEventFeed {
  private readonly sql;

  constructor(
    db: Database.Database,
    private readonly deliveries: Deliveries,
  ) {
    this.sql = {
      insert: db.prepare('INSERT INTO alert_events (alert_id, type, at, payload) VALUES (?, ?, ?, ?)'),
      after: db.prepare('SELECT id, type, at, payload FROM alert_events WHERE id > ? ORDER BY id LIMIT ?'),
      lastId: db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM alert_events'),
    };
  }

  /** The event and a delivery per channel (inside the transaction that changed the alert). */
  record(alert: Alert, type: AlertEventType, at: number, channels: readonly string[]): AlertEvent {
    const id = Number(this.sql.insert.run(alert.id, type, at, JSON.stringify(alert)).lastInsertRowid);
    this.deliveries.enqueue(id, channels, at);
    return { id, type, at, alert };
  }

  /** Events after `afterId`, oldest first: how an SSE client catches up after a reconnect. */
  after(afterId: number, limit: number): AlertEvent[] {
    const rows = this.sql.after.all(afterId, limit) as Array<{ id: number; type: AlertEventType; at: number; payload: string }>;
    return rows.map((r) => ({ id: r.id, type: r.type, at: r.at, alert: JSON.parse(r.payload) as Alert }));
  }

  get(id: number): AlertEvent | null {
    return this.after(id - 1, 1).find((e) => e.id === id) ?? null;
  }

  lastId(): number {
    return (this.sql.lastId.get() as { id: number }).id;
  }
}
