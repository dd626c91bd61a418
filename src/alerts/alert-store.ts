import type Database from 'better-sqlite3';
import type { MachineRef } from '../core/types.js';
import type { Alert, AlertEvent, AlertEventType, AlertKind, AlertQuality, AlertState, Outcome, Resolution, Severity } from './types.js';

interface AlertRow {
  id: number;
  site: string;
  line: string;
  machine: string;
  kind: AlertKind;
  subject: string;
  severity: Severity;
  state: AlertState;
  message: string;
  details: string;
  opened_at: number;
  updated_at: number;
  updates: number;
  acked_at: number | null;
  acked_by: string | null;
  ack_note: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution: Resolution | null;
  resolve_note: string | null;
  outcome: Outcome | null;
  lead_ms: number | null;
}

export interface OpenAlertInput {
  machine: MachineRef;
  kind: AlertKind;
  subject?: string;
  severity: Severity;
  message: string;
  details: Record<string, unknown>;
}

export interface AlertListQuery {
  state?: AlertState | 'unresolved';
  machine?: string;
  kind?: AlertKind;
  severity?: Severity;
  /** Only alerts with an id below this (paging newest first). */
  before?: number;
  limit: number;
}

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

/**
 * Alerts, their change log and the notification outbox in Vigil's SQLite state DB. Every change of an
 * alert, its event and one delivery row per notification channel are written in one transaction: a
 * crash either keeps all three or none, so a restart never loses or duplicates a delivery record.
 */
export class AlertStore {
  constructor(
    private readonly db: Database.Database,
    /** Outbox channels each event is delivered to (e.g. `webhook:ops`, `mqtt`). */
    private readonly channels: readonly string[],
  ) {}

  open(input: OpenAlertInput, at: number): AlertEvent {
    return this.db.transaction(() => {
      const r = input.machine;
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO alerts (site, line, machine, kind, subject, severity, state, message, details, opened_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)`,
          )
          .run(r.site, r.line, r.machine, input.kind, input.subject ?? '', input.severity, input.message, JSON.stringify(input.details), at, at).lastInsertRowid,
      );
      return this.recordEvent(id, 'opened', at);
    })();
  }

  /** A repeat of an open alert's condition; returns an event only when the severity changed (worth a notification). */
  update(id: number, change: { severity: Severity; message: string; details: Record<string, unknown> }, at: number): AlertEvent | null {
    return this.db.transaction(() => {
      const before = this.row(id);
      if (!before || before.state === 'resolved') return null;
      this.db
        .prepare('UPDATE alerts SET severity = ?, message = ?, details = ?, updated_at = ?, updates = updates + 1 WHERE id = ?')
        .run(change.severity, change.message, JSON.stringify(change.details), at, id);
      return before.severity !== change.severity ? this.recordEvent(id, 'updated', at) : null;
    })();
  }

  acknowledge(id: number, by: string, note: string | null, at: number): AlertEvent {
    return this.db.transaction(() => {
      const before = this.require(id);
      if (before.state !== 'open') throw new AlertStateError(id, before.state, 'acknowledge');
      this.db.prepare("UPDATE alerts SET state = 'acknowledged', acked_at = ?, acked_by = ?, ack_note = ?, updated_at = ? WHERE id = ?").run(at, by, note, at, id);
      return this.recordEvent(id, 'acknowledged', at);
    })();
  }

  resolve(id: number, r: { by: string; resolution: Resolution; note?: string | null; outcome?: Outcome | null; leadMs?: number | null }, at: number): AlertEvent {
    return this.db.transaction(() => {
      const before = this.require(id);
      if (before.state === 'resolved') throw new AlertStateError(id, before.state, 'resolve');
      this.db
        .prepare(
          `UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolution = ?, resolve_note = ?, outcome = ?, lead_ms = ?, updated_at = ?
           WHERE id = ?`,
        )
        .run(at, r.by, r.resolution, r.note ?? null, r.outcome ?? null, r.leadMs ?? null, at, id);
      return this.recordEvent(id, 'resolved', at);
    })();
  }

  /** A failure followed an already closed risk alert: it was right after all. */
  markTruePositive(id: number, leadMs: number): void {
    this.db.prepare("UPDATE alerts SET outcome = 'true_positive', lead_ms = ? WHERE id = ?").run(leadMs, id);
  }

  recordMiss(machine: string, failureTs: number, at: number): void {
    this.db.prepare('INSERT OR IGNORE INTO missed_failures (machine, failure_ts, recorded_at) VALUES (?, ?, ?)').run(machine, failureTs, at);
  }

  findUnresolved(machine: string, kind: AlertKind, subject = ''): Alert | null {
    const row = this.db.prepare("SELECT * FROM alerts WHERE machine = ? AND kind = ? AND subject = ? AND state != 'resolved'").get(machine, kind, subject) as AlertRow | undefined;
    return row ? toAlert(row) : null;
  }

  /** The latest failure-risk alert of a machine resolved at or after `since` (for late true positives). */
  lastResolvedRisk(machine: string, since: number): Alert | null {
    const row = this.db
      .prepare("SELECT * FROM alerts WHERE machine = ? AND kind = 'failure_risk' AND state = 'resolved' AND resolved_at >= ? ORDER BY id DESC LIMIT 1")
      .get(machine, since) as AlertRow | undefined;
    return row ? toAlert(row) : null;
  }

  unresolved(): Alert[] {
    return (this.db.prepare("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id").all() as AlertRow[]).map(toAlert);
  }

  get(id: number): Alert | null {
    const row = this.row(id);
    return row ? toAlert(row) : null;
  }

  list(q: AlertListQuery): Alert[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state === 'unresolved') where.push("state != 'resolved'");
    else if (q.state) (where.push('state = ?'), args.push(q.state));
    if (q.machine) (where.push('machine = ?'), args.push(q.machine));
    if (q.kind) (where.push('kind = ?'), args.push(q.kind));
    if (q.severity) (where.push('severity = ?'), args.push(q.severity));
    if (q.before !== undefined) (where.push('id < ?'), args.push(q.before));
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as AlertRow[]).map(toAlert);
  }

  countsByState(): Record<AlertState, number> {
    const out: Record<AlertState, number> = { open: 0, acknowledged: 0, resolved: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM alerts GROUP BY state').all() as Array<{ state: AlertState; n: number }>) out[r.state] = r.n;
    return out;
  }

  /** Production precision/recall of failure-risk alerts, from how they ended and the failures they missed. */
  quality(): AlertQuality {
    const q = this.db
      .prepare(
        `SELECT SUM(outcome = 'true_positive') AS tp, SUM(outcome = 'false_alarm') AS fa, AVG(CASE WHEN outcome = 'true_positive' THEN lead_ms END) AS lead
         FROM alerts WHERE kind = 'failure_risk'`,
      )
      .get() as { tp: number | null; fa: number | null; lead: number | null };
    const missed = (this.db.prepare('SELECT COUNT(*) AS n FROM missed_failures').get() as { n: number }).n;
    const tp = q.tp ?? 0;
    const fa = q.fa ?? 0;
    return {
      truePositives: tp,
      falseAlarms: fa,
      missedFailures: missed,
      precision: tp + fa > 0 ? tp / (tp + fa) : null,
      recall: tp + missed > 0 ? tp / (tp + missed) : null,
      meanLeadMs: q.lead,
    };
  }

  /** Events after `afterId`, oldest first: how an SSE client catches up after a reconnect. */
  eventsAfter(afterId: number, limit: number): AlertEvent[] {
    const rows = this.db.prepare('SELECT id, type, at, payload FROM alert_events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Array<{ id: number; type: AlertEventType; at: number; payload: string }>;
    return rows.map((r) => ({ id: r.id, type: r.type, at: r.at, alert: JSON.parse(r.payload) as Alert }));
  }

  event(id: number): AlertEvent | null {
    return this.eventsAfter(id - 1, 1).find((e) => e.id === id) ?? null;
  }

  lastEventId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM alert_events').get() as { id: number }).id;
  }

  /**
   * Pending deliveries that may go now, oldest first: per channel, those before its first one that
   * is still waiting out a backoff (order within a channel is kept).
   */
  dueDeliveries(now: number, limit: number): Delivery[] {
    const pending = (this.db.prepare("SELECT * FROM deliveries WHERE state = 'pending' ORDER BY id LIMIT ?").all(limit) as DeliveryRow[]).map(toDelivery);
    const blocked = new Set<string>();
    const out: Delivery[] = [];
    for (const d of pending) {
      if (blocked.has(d.channel)) continue;
      if (d.nextAttemptAt > now) blocked.add(d.channel);
      else out.push(d);
    }
    return out;
  }

  nextDeliveryAt(): number | null {
    return (this.db.prepare("SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE state = 'pending'").get() as { t: number | null }).t;
  }

  markDelivered(id: number, at: number): void {
    this.db.prepare("UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?").run(at, id);
  }

  markAttemptFailed(id: number, error: string, nextAttemptAt: number, dead: boolean): void {
    this.db
      .prepare('UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?')
      .run(dead ? 'dead' : 'pending', error.slice(0, 500), nextAttemptAt, id);
  }

  deliveries(q: { state?: DeliveryState; limit: number }): Delivery[] {
    const rows = q.state
      ? this.db.prepare('SELECT * FROM deliveries WHERE state = ? ORDER BY id DESC LIMIT ?').all(q.state, q.limit)
      : this.db.prepare('SELECT * FROM deliveries ORDER BY id DESC LIMIT ?').all(q.limit);
    return (rows as DeliveryRow[]).map(toDelivery);
  }

  deliveryCounts(): Record<DeliveryState, number> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state').all() as Array<{ state: DeliveryState; n: number }>) out[r.state] = r.n;
    return out;
  }

  private recordEvent(alertId: number, type: AlertEventType, at: number): AlertEvent {
    const alert = toAlert(this.row(alertId)!);
    const id = Number(this.db.prepare('INSERT INTO alert_events (alert_id, type, at, payload) VALUES (?, ?, ?, ?)').run(alertId, type, at, JSON.stringify(alert)).lastInsertRowid);
    const insert = this.db.prepare("INSERT INTO deliveries (event_id, channel, state, next_attempt_at) VALUES (?, ?, 'pending', ?)");
    for (const channel of this.channels) insert.run(id, channel, at);
    return { id, type, at, alert };
  }

  private row(id: number): AlertRow | undefined {
    return this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
  }

  private require(id: number): AlertRow {
    const row = this.row(id);
    if (!row) throw new AlertNotFoundError(id);
    return row;
  }
}

export class AlertNotFoundError extends Error {
  constructor(readonly id: number) {
    super(`alert ${id} does not exist`);
    this.name = 'AlertNotFoundError';
  }
}

export class AlertStateError extends Error {
  constructor(readonly id: number, readonly state: AlertState, action: string) {
    super(`alert ${id} is ${state}; cannot ${action} it`);
    this.name = 'AlertStateError';
  }
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

function toDelivery(r: DeliveryRow): Delivery {
  return { id: r.id, eventId: r.event_id, channel: r.channel, state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error, deliveredAt: r.delivered_at };
}

function toAlert(r: AlertRow): Alert {
  return {
    id: r.id,
    machine: { site: r.site, line: r.line, machine: r.machine },
    kind: r.kind,
    subject: r.subject,
    severity: r.severity,
    state: r.state,
    message: r.message,
    details: JSON.parse(r.details) as Record<string, unknown>,
    openedAt: r.opened_at,
    updatedAt: r.updated_at,
    updates: r.updates,
    acknowledged: r.acked_at === null ? null : { at: r.acked_at, by: r.acked_by ?? '', note: r.ack_note },
    resolved: r.resolved_at === null ? null : { at: r.resolved_at, by: r.resolved_by ?? '', resolution: r.resolution!, note: r.resolve_note },
    outcome: r.outcome,
    leadMs: r.lead_ms,
  };
}
