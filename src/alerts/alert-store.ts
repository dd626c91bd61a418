import type Database from 'better-sqlite3';
import type { MachineRef } from '../core/types.js';
import type { Verdict } from '../core/verdict-book.js';
import { Deliveries } from './store/deliveries.js';
import { AlertEventFeed } from './store/event-feed.js';
import { QualityFigures } from './store/quality-figures.js';
import type { Alert, AlertEvent, AlertEventType, Escalation, AlertKind, AlertState, Outcome, Resolution, Severity } from './types.js';

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
  escalations: string;
  raised_to: Severity | null;
  verdict: Verdict | null;
  verdict_by: string | null;
  verdict_at: number | null;
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

export type { Delivery, DeliveryState } from './store/deliveries.js';

/**
 * Alerts in Vigil's SQLite state DB: the alerts table and its lifecycle here; their change log
 * (`events`), the outbox's deliveries and the quality figures beside it, one table's statements each.
 * Every change of an alert, its event and one delivery row per notification channel are written in
 * one transaction: a crash either keeps all three or none, so a restart never loses or duplicates a
 * delivery record. Which (machine, kind, subject) has an unresolved alert is also kept in memory:
 * the data-quality check asks it for every condition of every machine, and a fleet of tens of
 * thousands must not turn that into a query each; every write here keeps it in step.
 */
export class AlertStore {
  /** machine → `${kind}\0${subject}` → id of its unresolved alert. */
  private readonly unresolvedIndex = new Map<string, Map<string, number>>();
  private readonly sql;
  private readonly listQueries = new Map<string, Database.Statement>();
  readonly deliveries: Deliveries;
  readonly events: AlertEventFeed;
  readonly figures: QualityFigures;

  constructor(
    private readonly db: Database.Database,
    /** Outbox channels each event is delivered to (e.g. `webhook:ops`, `mqtt`). */
    private readonly channels: readonly string[],
  ) {
    this.deliveries = new Deliveries(db);
    this.events = new AlertEventFeed(db, this.deliveries);
    this.figures = new QualityFigures(db);
    this.sql = {
      insertAlert: db.prepare(
        `INSERT INTO alerts (site, line, machine, kind, subject, severity, state, message, details, opened_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)`,
      ),
      update: db.prepare('UPDATE alerts SET severity = ?, message = ?, details = ?, updated_at = ?, updates = updates + 1 WHERE id = ?'),
      escalate: db.prepare('UPDATE alerts SET severity = ?, raised_to = ?, escalations = ?, updated_at = ? WHERE id = ?'),
      acknowledge: db.prepare(
        "UPDATE alerts SET state = 'acknowledged', acked_at = ?, acked_by = ?, ack_note = ?, updated_at = ? WHERE id = ?",
      ),
      verdict: db.prepare('UPDATE alerts SET verdict = ?, verdict_by = ?, verdict_at = ?, outcome = coalesce(?, outcome) WHERE id = ?'),
      resolve: db.prepare(
        `UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolution = ?, resolve_note = ?, outcome = ?, lead_ms = ?, updated_at = ?
         WHERE id = ?`,
      ),
      markTruePositive: db.prepare("UPDATE alerts SET outcome = 'true_positive', lead_ms = ? WHERE id = ?"),
      lastResolved: db.prepare(
        "SELECT * FROM alerts WHERE machine = ? AND kind = ? AND state = 'resolved' AND resolved_at >= ? ORDER BY id DESC LIMIT 1",
      ),
      unresolved: db.prepare("SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id"),
      openUnacknowledged: db.prepare("SELECT * FROM alerts WHERE state = 'open' ORDER BY id"),
      unresolvedKeys: db.prepare("SELECT id, machine, kind, subject FROM alerts WHERE state != 'resolved'"),
      unresolvedByKind: db.prepare("SELECT kind, COUNT(*) AS n FROM alerts WHERE state != 'resolved' GROUP BY kind"),
      row: db.prepare('SELECT * FROM alerts WHERE id = ?'),
      countsByState: db.prepare('SELECT state, COUNT(*) AS n FROM alerts GROUP BY state'),
    };
    for (const r of this.sql.unresolvedKeys.all() as Array<{ id: number; machine: string; kind: AlertKind; subject: string }>)
      this.index(r.machine, r.kind, r.subject, r.id);
  }

  open(input: OpenAlertInput, at: number): AlertEvent {
    return this.db.transaction(() => {
      const r = input.machine;
      const subject = input.subject ?? '';
      const id = Number(
        this.sql.insertAlert.run(
          r.site,
          r.line,
          r.machine,
          input.kind,
          subject,
          input.severity,
          input.message,
          JSON.stringify(input.details),
          at,
          at,
        ).lastInsertRowid,
      );
      const event = this.recordEvent(id, 'opened', at);
      this.index(r.machine, input.kind, subject, id);
      return event;
    })();
  }

  /** A repeat of an open alert's condition; returns an event only when the severity changed (worth a notification). */
  update(id: number, change: { severity: Severity; message: string; details: Record<string, unknown> }, at: number): AlertEvent | null {
    return this.db.transaction(() => {
      const before = this.row(id);
      if (!before || before.state === 'resolved') return null;
      // A severity an escalation raised stays raised until the alert ends.
      const severity = before.raised_to === 'critical' ? 'critical' : change.severity;
      this.sql.update.run(severity, change.message, JSON.stringify(change.details), at, id);
      return before.severity !== severity ? this.recordEvent(id, 'updated', at) : null;
    })();
  }

  /**
   * An open alert nobody acknowledged takes an escalation step: recorded in its history, the
   * severity raised when the step says so, and an `escalated` event delivered to the step's channels
   * (all channels when it names none). Null when the alert is no longer open or took the step already.
   */
  escalate(id: number, step: { key: string; raiseTo: Severity | null; channels: string[] }, at: number): AlertEvent | null {
    return this.db.transaction(() => {
      const before = this.row(id);
      if (!before || before.state !== 'open') return null;
      const history = JSON.parse(before.escalations) as Escalation[];
      if (history.some((e) => e.step === step.key)) return null;
      const channels = step.channels.length > 0 ? step.channels : [...this.channels];
      history.push({ step: step.key, at, raisedTo: step.raiseTo, channels });
      const severity = step.raiseTo ?? before.severity;
      this.sql.escalate.run(severity, step.raiseTo ?? before.raised_to, JSON.stringify(history), at, id);
      return this.recordEvent(id, 'escalated', at, channels);
    })();
  }

  /** Alerts open and unacknowledged, oldest first: the ones escalation looks at. */
  openUnacknowledged(): Alert[] {
    return (this.sql.openUnacknowledged.all() as AlertRow[]).map(toAlert);
  }

  acknowledge(
    id: number,
    by: string,
    note: string | null,
    at: number,
    verdict?: { verdict: Verdict; outcome: Outcome | null },
  ): AlertEvent {
    return this.db.transaction(() => {
      const before = this.require(id);
      if (before.state !== 'open') throw new AlertStateError(id, before.state, 'acknowledge');
      this.sql.acknowledge.run(at, by, note, at, id);
      if (verdict) this.sql.verdict.run(verdict.verdict, by, at, verdict.outcome, id);
      return this.recordEvent(id, 'acknowledged', at);
    })();
  }

  /**
   * A technician's verdict on an alert already acknowledged or resolved (through the events topic, or
   * given late), with the outcome it implies; the event tells the channels its alert changed.
   */
  judge(id: number, verdict: Verdict, by: string, outcome: Outcome | null, at: number): AlertEvent {
    return this.db.transaction(() => {
      this.require(id);
      this.sql.verdict.run(verdict, by, at, outcome, id);
      return this.recordEvent(id, 'updated', at);
    })();
  }

  resolve(
    id: number,
    r: { by: string; resolution: Resolution; note?: string | null; outcome?: Outcome | null; leadMs?: number | null; verdict?: Verdict },
    at: number,
  ): AlertEvent {
    return this.db.transaction(() => {
      const before = this.require(id);
      if (before.state === 'resolved') throw new AlertStateError(id, before.state, 'resolve');
      this.sql.resolve.run(at, r.by, r.resolution, r.note ?? null, r.outcome ?? null, r.leadMs ?? null, at, id);
      if (r.verdict) this.sql.verdict.run(r.verdict, r.by, at, null, id);
      const event = this.recordEvent(id, 'resolved', at);
      this.unindex(before.machine, before.kind, before.subject);
      return event;
    })();
  }

  /** A failure followed an already closed risk alert: it was right after all. */
  markTruePositive(id: number, leadMs: number): void {
    this.sql.markTruePositive.run(leadMs, id);
  }

  /** How many unresolved alerts the machine has (no query). */
  unresolvedCount(machine: string): number {
    return this.unresolvedIndex.get(machine)?.size ?? 0;
  }

  /** Whether the machine has any unresolved alert (no query). */
  hasUnresolved(machine: string): boolean {
    return this.unresolvedIndex.has(machine);
  }

  findUnresolved(machine: string, kind: AlertKind, subject = ''): Alert | null {
    const id = this.unresolvedIndex.get(machine)?.get(`${kind}\0${subject}`);
    return id === undefined ? null : this.get(id);
  }

  /** The latest alert of a kind (failure risk, anomaly) of a machine resolved at or after `since` (for late true positives). */
  lastResolved(machine: string, kind: AlertKind, since: number): Alert | null {
    const row = this.sql.lastResolved.get(machine, kind, since) as AlertRow | undefined;
    return row ? toAlert(row) : null;
  }

  unresolved(): Alert[] {
    return (this.sql.unresolved.all() as AlertRow[]).map(toAlert);
  }

  unresolvedCountsByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.sql.unresolvedByKind.all() as Array<{ kind: string; n: number }>) out[r.kind] = r.n;
    return out;
  }

  get(id: number): Alert | null {
    const row = this.row(id);
    return row ? toAlert(row) : null;
  }

  list(q: AlertListQuery): Alert[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (q.state === 'unresolved') where.push("state != 'resolved'");
    else if (q.state) filter('state = ?', q.state);
    if (q.machine) filter('machine = ?', q.machine);
    if (q.kind) filter('kind = ?', q.kind);
    if (q.severity) filter('severity = ?', q.severity);
    if (q.before !== undefined) filter('id < ?', q.before);
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    // One statement per combination of filters (at most 32), compiled once.
    let stmt = this.listQueries.get(sql);
    if (!stmt) this.listQueries.set(sql, (stmt = this.db.prepare(sql)));
    return (stmt.all(...args, q.limit) as AlertRow[]).map(toAlert);
  }

  countsByState(): Record<AlertState, number> {
    const out: Record<AlertState, number> = { open: 0, acknowledged: 0, resolved: 0 };
    for (const r of this.sql.countsByState.all() as Array<{ state: AlertState; n: number }>) out[r.state] = r.n;
    return out;
  }

  private recordEvent(alertId: number, type: AlertEventType, at: number, channels: readonly string[] = this.channels): AlertEvent {
    return this.events.record(toAlert(this.row(alertId)!), type, at, channels);
  }

  private index(machine: string, kind: AlertKind, subject: string, id: number): void {
    let byMachine = this.unresolvedIndex.get(machine);
    if (!byMachine) {
      byMachine = new Map<string, number>();
      this.unresolvedIndex.set(machine, byMachine);
    }
    byMachine.set(`${kind}\0${subject}`, id);
  }

  private unindex(machine: string, kind: AlertKind, subject: string): void {
    const byMachine = this.unresolvedIndex.get(machine);
    if (!byMachine) return;
    byMachine.delete(`${kind}\0${subject}`);
    if (byMachine.size === 0) this.unresolvedIndex.delete(machine);
  }

  private row(id: number): AlertRow | undefined {
    return this.sql.row.get(id) as AlertRow | undefined;
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
  constructor(
    readonly id: number,
    readonly state: AlertState,
    action: string,
  ) {
    super(`alert ${id} is ${state}; cannot ${action} it`);
    this.name = 'AlertStateError';
  }
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
    resolved:
      r.resolved_at === null ? null : { at: r.resolved_at, by: r.resolved_by ?? '', resolution: r.resolution!, note: r.resolve_note },
    outcome: r.outcome,
    leadMs: r.lead_ms,
    escalations: JSON.parse(r.escalations) as Escalation[],
    verdict: r.verdict === null ? null : { verdict: r.verdict, by: r.verdict_by ?? '', at: r.verdict_at ?? r.updated_at },
  };
}
