import type Database from 'better-sqlite3';

export type DeliveryState = 'pending' | 'delivered' | 'dead';

export interface Delivery {
  id: number;
  eventId: number;
  channel: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  deliveredAt: number | null;
}

interface DeliveryRow {
  id: number;
  event_id: number;
  channel: string;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  delivered_at: number | null;
}

/**
 * The outbox's table (`deliveries`): one row per alert event and notification channel, written in
 * the transaction that records the event, then taken by the outbox until delivered or dead.
 */
export class Deliveries {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      insert: db.prepare("INSERT INTO deliveries (event_id, channel, state, next_attempt_at) VALUES (?, ?, 'pending', ?)"),
      pending: db.prepare("SELECT * FROM deliveries WHERE state = 'pending' ORDER BY id LIMIT ?"),
      nextAt: db.prepare("SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE state = 'pending'"),
      markDelivered: db.prepare(
        "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
      ),
      markAttemptFailed: db.prepare(
        'UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?',
      ),
      byState: db.prepare('SELECT * FROM deliveries WHERE state = ? ORDER BY id DESC LIMIT ?'),
      all: db.prepare('SELECT * FROM deliveries ORDER BY id DESC LIMIT ?'),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state'),
    };
  }

  /** One pending delivery per channel for an event (inside the transaction that records it). */
  enqueue(eventId: number, channels: readonly string[], at: number): void {
    for (const channel of channels) this.sql.insert.run(eventId, channel, at);
  }

  /**
   * Pending deliveries that may go now, oldest first: per channel, those before its first one that
   * is still waiting out a backoff (order within a channel is kept).
   */
  due(now: number, limit: number): Delivery[] {
    const pending = (this.sql.pending.all(limit) as DeliveryRow[]).map(toDelivery);
    const blocked = new Set<string>();
    const out: Delivery[] = [];
    for (const d of pending) {
      if (blocked.has(d.channel)) continue;
      if (d.nextAttemptAt > now) blocked.add(d.channel);
      else out.push(d);
    }
    return out;
  }

  nextAt(): number | null {
    return (this.sql.nextAt.get() as { t: number | null }).t;
  }

  markDelivered(id: number, at: number): void {
    this.sql.markDelivered.run(at, id);
  }

  markAttemptFailed(id: number, error: string, nextAttemptAt: number, dead: boolean): void {
    this.sql.markAttemptFailed.run(dead ? 'dead' : 'pending', error.slice(0, 500), nextAttemptAt, id);
  }

  list(q: { state?: DeliveryState; limit: number }): Delivery[] {
    const rows = q.state ? this.sql.byState.all(q.state, q.limit) : this.sql.all.all(q.limit);
    return (rows as DeliveryRow[]).map(toDelivery);
  }

  counts(): Record<DeliveryState, number> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.sql.counts.all() as Array<{ state: DeliveryState; n: number }>) out[r.state] = r.n;
    return out;
  }
}

function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    eventId: r.event_id,
    channel: r.channel,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
  };
}
