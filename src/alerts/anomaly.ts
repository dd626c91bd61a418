/**
 * Anomaly alerts from the health model: a machine whose health index stays below its model's
 * threshold (debounced, with hysteresis, one open alert per machine) gets an alert saying which
 * sensors depart from normal, which way, since when and by how much. A failure after it makes it an
 * early warning; a technician's verdict (normal, abnormal, failure) settles it and teaches the next
 * health model through the verdict book.
 */
import type { Clock } from '../core/clock.js';
import { HysteresisRule } from '../core/hysteresis.js';
import type { Logger } from '../core/logger.js';
import { roughDuration } from '../core/time.js';
import type { MachineEvent, MachineRef } from '../core/types.js';
import type { Verdict, VerdictBook } from '../core/verdict-book.js';
import type { MachineHealth } from '../scoring/index.js';
import type { AlertStore } from './alert-store.js';
import { graceOf, type Grace } from './grace.js';
import { isBackfill } from './quality.js';
import type { Alert, AlertEvent, Outcome, Severity } from './types.js';

export interface AnomalyOptions {
  openAfter: number;
  closeAfter: number;
  /** Index points above the threshold that count as recovered. */
  hysteresis: number;
  /** Below the threshold this long (data time), or below half of it, is critical. */
  criticalAfterMs: number;
  /** A failure this long after an anomaly alert closed still counts as announced by it. */
  lateFailureGraceMs: Grace;
  backfillAgeMs: number;
  /** Sensors named in the message. */
  topSensors: number;
}

/** A health point as an alert keeps it: at opening, at its lowest, and the latest. */
interface HealthPoint {
  index: number;
  dataTs: number;
}

/** What the message says of a sensor's departure: its unit where known. */
export type DescribeSensor = (machine: string, sensor: string) => { unit?: string } | null;

const OUTCOME_OF: Record<Verdict, Outcome> = { normal: 'false_alarm', abnormal: 'true_positive', failure: 'true_positive' };

export class AnomalyAlerts {
  /** Per machine its debounce: a few numbers each, bounded by the machines scored. */
  private readonly rules = new Map<string, HysteresisRule>();
  readonly counters = { healthScores: 0, opened: 0, earlyWarnings: 0, verdicts: 0, verdictsWithoutAlert: 0 };

  constructor(
    private readonly store: AlertStore,
    private readonly book: VerdictBook,
    private readonly o: AnomalyOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly emit: (ev: AlertEvent) => void,
    private readonly describe: DescribeSensor,
  ) {}

  onHealth(machine: MachineRef, h: MachineHealth, kind: string): void {
    this.counters.healthScores++;
    if (isBackfill(h.dataTs, this.clock.now(), this.o.backfillAgeMs)) return;
    const rule = this.ruleFor(machine.machine, h.threshold);
    const transition = rule.observe(100 - h.index);
    if (transition === null) return;
    const now = this.clock.now();
    const existing = this.store.findUnresolved(machine.machine, 'anomaly');
    const point: HealthPoint = { index: h.index, dataTs: h.dataTs };
    if (transition === 'close') {
      if (!existing) return;
      this.store.update(
        existing.id,
        { severity: existing.severity, message: existing.message, details: { ...existing.details, closedDataTs: h.dataTs } },
        now,
      );
      this.book.closed(existing.id, h.dataTs);
      this.emit(
        this.store.resolve(
          existing.id,
          {
            by: 'vigil',
            resolution: 'recovered',
            note: `health back above ${h.threshold + this.o.hysteresis} for ${this.o.closeAfter} scores`,
          },
          now,
        ),
      );
      return;
    }
    const firstDataTs = Number(existing?.details.firstDataTs ?? h.dataTs);
    const opened = (existing?.details.opened as HealthPoint | undefined) ?? point;
    const lowestBefore = existing?.details.lowest as HealthPoint | undefined;
    const lowest = lowestBefore && lowestBefore.index <= point.index ? lowestBefore : point;
    const severity: Severity = h.index < h.threshold / 2 || h.dataTs - firstDataTs >= this.o.criticalAfterMs ? 'critical' : 'warning';
    const details = {
      index: h.index,
      threshold: h.threshold,
      model: h.model,
      deviations: h.deviations,
      dataTs: h.dataTs,
      firstDataTs,
      opened,
      lowest,
    };
    const message = anomalyMessage(
      machine.machine,
      h,
      firstDataTs,
      this.o.topSensors,
      (sensor) => this.describe(machine.machine, sensor)?.unit,
    );
    if (!existing) {
      const ev = this.store.open({ machine, kind: 'anomaly', severity, message, details }, now);
      this.book.opened(ev.alert.id, machine.machine, kind, h.windowStartTs);
      this.counters.opened++;
      this.emit(ev);
    } else {
      const ev = this.store.update(existing.id, { severity, message, details }, now);
      if (ev) this.emit(ev);
    }
  }

  /**
   * A failure: the open anomaly alert (or one closed within the grace before it) announced it, an
   * early warning with its lead time. Returns whether one did.
   */
  onFailure(e: MachineEvent): boolean {
    this.rules.get(e.machine.machine)?.reset(false);
    const now = this.clock.now();
    const open = this.store.findUnresolved(e.machine.machine, 'anomaly');
    if (open) {
      const leadMs = Math.max(0, e.ts - Number(open.details.firstDataTs ?? e.ts));
      this.store.update(open.id, { severity: open.severity, message: open.message, details: { ...open.details, closedDataTs: e.ts } }, now);
      this.book.closed(open.id, e.ts);
      this.emit(
        this.store.resolve(
          open.id,
          { by: 'vigil', resolution: 'failure', note: e.note ?? 'failure event', outcome: 'true_positive', leadMs },
          now,
        ),
      );
      this.counters.earlyWarnings++;
      return true;
    }
    const recent = this.recent(e.machine.machine, e.ts, now);
    if (!recent) return false;
    if (recent.outcome !== 'true_positive')
      this.store.markTruePositive(recent.id, Math.max(0, e.ts - Number(recent.details.firstDataTs ?? e.ts)));
    this.counters.earlyWarnings++;
    return true;
  }

  /**
   * A verdict with an acknowledgement or a resolution of an anomaly alert (API, CLI, page). Returns
   * the outcome it implies for the alert, recorded in the verdict book for the next health run.
   */
  verdictOf(alert: Alert, verdict: Verdict, by: string): Outcome {
    this.book.judge(alert.id, verdict, by, this.clock.now(), Number(alert.details.dataTs ?? alert.details.firstDataTs ?? alert.openedAt));
    this.counters.verdicts++;
    if (verdict === 'normal') this.rules.get(alert.machine.machine)?.reset(false);
    return OUTCOME_OF[verdict];
  }

  /**
   * A verdict sent as a machine event (`normal` or `abnormal` on the events topic, e.g. from a CMMS):
   * it settles the machine's unresolved anomaly alert, else the last one closed within the grace.
   */
  onVerdictEvent(e: MachineEvent & { type: 'normal' | 'abnormal' }): void {
    const now = this.clock.now();
    const by = e.note ? `events topic (${e.note.slice(0, 80)})` : 'events topic';
    const open = this.store.findUnresolved(e.machine.machine, 'anomaly');
    if (open) {
      const outcome = this.verdictOf(open, e.type, by);
      this.emit(this.store.resolve(open.id, { by, resolution: 'technician', note: e.note ?? null, outcome, verdict: e.type }, now));
      return;
    }
    const recent = this.store.lastResolved(e.machine.machine, 'anomaly', now - graceOf(this.o.lateFailureGraceMs, e.machine.machine));
    if (!recent || recent.verdict) {
      this.counters.verdictsWithoutAlert++;
      this.log.info({ machine: e.machine.machine, verdict: e.type }, 'verdict with no anomaly alert to settle');
      return;
    }
    this.emit(this.store.judge(recent.id, e.type, by, this.verdictOf(recent, e.type, by), now));
  }

  /** The anomaly alert of a machine that closed within the grace before `failureTs`, in data time. */
  private recent(machine: string, failureTs: number, now: number): Alert | null {
    const last = this.store.lastResolved(machine, 'anomaly', 0);
    if (!last || last.resolved?.resolution === 'failure') return null;
    const closedDataTs = Number(last.details.closedDataTs);
    const grace = graceOf(this.o.lateFailureGraceMs, machine);
    if (!Number.isFinite(closedDataTs)) return last.resolved && last.resolved.at >= now - grace ? last : null;
    const firstDataTs = Number(last.details.firstDataTs ?? closedDataTs);
    return failureTs >= firstDataTs && failureTs - closedDataTs <= grace ? last : null;
  }

  private ruleFor(machine: string, threshold: number): HysteresisRule {
    const high = 100 - threshold;
    const low = 100 - Math.min(100, threshold + this.o.hysteresis);
    let rule = this.rules.get(machine);
    if (!rule) {
      rule = new HysteresisRule({ high, low, openAfter: this.o.openAfter, closeAfter: this.o.closeAfter });
      // After a restart the rule resumes from the persisted alert, so no duplicate opens.
      if (this.store.findUnresolved(machine, 'anomaly')) rule.reset(true);
      this.rules.set(machine, rule);
    } else rule.setHigh(high, low);
    return rule;
  }
}

/**
 * What a technician needs: how far health fell, which sensors depart and which way, since when, and
 * by how much in their own unit ("bearing_temp_c 8.4 °C above normal, flow_m3h 9.1 below").
 */
export function anomalyMessage(
  machine: string,
  h: MachineHealth,
  firstDataTs: number,
  top: number,
  unitOf: (sensor: string) => string | undefined,
): string {
  const sensors = h.deviations.slice(0, top).map((d) => {
    const unit = unitOf(d.sensor);
    const size = Math.abs(d.delta);
    const amount = size >= 100 ? size.toFixed(0) : size >= 1 ? size.toFixed(1) : size.toPrecision(2);
    return `${d.sensor} ${amount}${unit ? ` ${unit}` : ''} ${d.delta >= 0 ? 'above' : 'below'} normal (${Math.abs(d.sigmas).toFixed(1)} σ)`;
  });
  const since = new Date(firstDataTs).toISOString().slice(0, 16).replace('T', ' ');
  return `${machine}: health ${h.index.toFixed(0)} (alert below ${h.threshold})${sensors.length ? ` — ${sensors.join(', ')}` : ''}; since ${since} UTC (${roughDuration(h.dataTs - firstDataTs)})`;
}
