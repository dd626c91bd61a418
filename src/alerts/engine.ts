import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MachineEvent, MachineRef } from '../core/types.js';
import { roughDuration } from '../core/time.js';
import { AlertNotFoundError, AlertStore } from './alert-store.js';
import { isBackfill, type QualityCondition, type QualityMonitor, type QualitySummary } from './quality.js';
import { HysteresisRule } from '../core/hysteresis.js';
import type { Alert, AlertEvent, Severity } from './types.js';
import type { AnomalyAlerts } from './anomaly.js';
import { graceOf, type Grace } from './grace.js';
import type { Verdict } from '../core/verdict-book.js';

/** A score as an alert keeps it: at opening, at its peak, and the latest. */
export interface ScorePoint {
  probability: number;
  rulSteps: number;
  dataTs: number;
}

export interface RiskScore {
  machine: MachineRef;
  /** Data time of the window's last step. */
  dataTs: number;
  probability: number;
  /** Remaining useful life in steps. */
  rulSteps: number;
  /** The same in time, by the step of the model that scored it (kinds may have their own); rulSteps × stepMs when absent. */
  rulMs?: number;
  model: string;
  topSensors: Array<{ sensor: string; contribution: number }>;
}

export interface RiskOptions {
  /** Open threshold; null = the champion's validation threshold, supplied per score. */
  high: number | null;
  low: number;
  openAfter: number;
  closeAfter: number;
  criticalProbability: number;
  criticalRul: number;
  /** A failure this long after a risk alert closed still counts as announced by it: one for all, or per machine (its kind's horizon). */
  lateFailureGraceMs: Grace;
  /** Scores of windows, and failures, stamped more than this before now are history (see isBackfill). */
  backfillAgeMs: number;
  /** From this many silent machines on, one gateway alert stands for them all. */
  silentMachinesSummary: number;
  /** Duration of one model step (learning.step), for a score that does not give its RUL in time. */
  stepMs: number;
}

/** Where the gateway's own alerts (about many machines at once) are filed. */
export const GATEWAY_REF: MachineRef = { site: '_gateway', line: '_gateway', machine: '_gateway' };

/**
 * Turns scores, machine events and data-quality conditions into alerts, through their lifecycle, in
 * the alert store. Emits `event` (AlertEvent) for every recorded change so the SSE stream and the
 * outbox can act at once instead of polling.
 */
export class AlertEngine extends EventEmitter {
  private readonly rules = new Map<string, HysteresisRule>();
  readonly counters = {
    scoresSeen: 0,
    opened: 0,
    resolvedByFailure: 0,
    missedFailures: 0,
    unwatchedFailures: 0,
    backfillScores: 0,
    backfillFailures: 0,
  };

  constructor(
    readonly store: AlertStore,
    private readonly quality: QualityMonitor,
    private readonly o: RiskOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** The health model's alerts: early warnings and verdicts. */
    readonly anomaly: AnomalyAlerts | null = null,
    /**
     * Which model roles watched a machine (a model of its kind): a failure no model watched is
     * unwatched, not missed. Without it, every machine counts as watched by a failure model.
     */
    private readonly watched: (machine: string) => { failure: boolean; health: boolean } | null = () => ({ failure: true, health: false }),
  ) {
    super();
  }

  onScore(s: RiskScore, championThreshold: number): void {
    this.counters.scoresSeen++;
    // A window of backfilled history says how the machine was, not how it is: no alert about the past.
    if (isBackfill(s.dataTs, this.clock.now(), this.o.backfillAgeMs)) {
      this.counters.backfillScores++;
      return;
    }
    const high = this.o.high ?? championThreshold;
    const rule = this.ruleFor(s.machine.machine, high);
    const transition = rule.observe(s.probability);
    if (transition === null) return;
    const now = this.clock.now();
    const severity: Severity = s.probability >= this.o.criticalProbability || s.rulSteps <= this.o.criticalRul ? 'critical' : 'warning';
    const message = `${s.machine.machine}: failure risk ${(s.probability * 100).toFixed(0)}%, remaining life about ${roughDuration(s.rulMs ?? s.rulSteps * this.o.stepMs)}${
      s.topSensors.length ? ` (driven by ${s.topSensors.map((t) => t.sensor).join(', ')})` : ''
    }`;
    // The latest score, plus what it was when the alert opened and at its peak, each with its data time.
    const point: ScorePoint = { probability: s.probability, rulSteps: s.rulSteps, dataTs: s.dataTs };
    const details = {
      probability: s.probability,
      rulSteps: s.rulSteps,
      model: s.model,
      threshold: high,
      topSensors: s.topSensors,
      dataTs: s.dataTs,
    };
    const existing = this.store.findUnresolved(s.machine.machine, 'failure_risk');
    if (transition === 'open' && !existing) {
      const firstDataTs = s.dataTs;
      this.emitEvent(
        this.store.open(
          { machine: s.machine, kind: 'failure_risk', severity, message, details: { ...details, firstDataTs, opened: point, peak: point } },
          now,
        ),
      );
      this.counters.opened++;
    } else if ((transition === 'update' || transition === 'open') && existing) {
      const opened = (existing.details.opened as ScorePoint | undefined) ?? point;
      const before = existing.details.peak as ScorePoint | undefined;
      const peak = before && before.probability >= point.probability ? before : point;
      this.emitEvent(
        this.store.update(
          existing.id,
          { severity, message, details: { ...details, firstDataTs: existing.details.firstDataTs ?? s.dataTs, opened, peak } },
          now,
        ),
      );
    } else if (transition === 'close' && existing) {
      // When (in data time) the risk went away: a failure soon after still counts as announced.
      this.store.update(
        existing.id,
        { severity: existing.severity, message: existing.message, details: { ...existing.details, closedDataTs: s.dataTs } },
        now,
      );
      this.emitEvent(
        this.store.resolve(
          existing.id,
          {
            by: 'vigil',
            resolution: 'recovered',
            note: `risk below ${this.o.low} for ${this.o.closeAfter} scores`,
            outcome: 'false_alarm',
          },
          now,
        ),
      );
    }
  }

  /**
   * Failure events close the loop: the open risk alert was right (lead time recorded), or the failure
   * was missed. Only live failures count: one stamped after it happened (a technician recording it
   * later) while the machine was being watched, or recent. Backfilled history — failures of a
   * replayed data set, of a bridge catching up — trains models but is no miss of an alert.
   */
  onMachineEvent(e: MachineEvent, receivedAt = this.clock.now()): void {
    if (e.type === 'normal' || e.type === 'abnormal') {
      this.anomaly?.onVerdictEvent({ ...e, type: e.type });
      return;
    }
    if (e.type !== 'failure') return;
    const machine = e.machine.machine;
    const open = this.store.findUnresolved(machine, 'failure_risk');
    const liveSince = this.quality.liveSince(machine);
    const live =
      open !== null ||
      this.store.findUnresolved(machine, 'anomaly') !== null ||
      !isBackfill(e.ts, receivedAt, this.o.backfillAgeMs) ||
      (liveSince !== null && liveSince <= e.ts);
    if (!live) {
      this.counters.backfillFailures++;
      return;
    }
    const risk = this.riskAnnounced(e, open);
    const health = this.anomaly?.onFailure(e) ?? false;
    const watched = this.watched(machine) ?? { failure: false, health: false };
    const now = this.clock.now();
    if (!risk && !health && !watched.failure && !watched.health) {
      // Its kind had no model of either role: nothing could have warned, so nothing was missed.
      this.store.figures.recordMiss(machine, e.ts, now, 'unwatched');
      this.counters.unwatchedFailures++;
      return;
    }
    if (watched.failure && !risk) {
      this.store.figures.recordMiss(machine, e.ts, now, 'failure');
      this.counters.missedFailures++;
      this.log.warn({ machine }, 'failure with no failure-risk alert before it');
    }
    if (watched.health && !health) this.store.figures.recordMiss(machine, e.ts, now, 'health');
  }

  /** The failure-risk side of a failure: the open alert (or one just closed) was right. Returns whether one announced it. */
  private riskAnnounced(e: MachineEvent, open: Alert | null): boolean {
    const now = this.clock.now();
    this.rules.get(e.machine.machine)?.reset(false);
    if (open) {
      const leadMs = Math.max(0, e.ts - Number(open.details.firstDataTs ?? e.ts));
      this.store.update(open.id, { severity: open.severity, message: open.message, details: { ...open.details, closedDataTs: e.ts } }, now);
      this.emitEvent(
        this.store.resolve(
          open.id,
          { by: 'vigil', resolution: 'failure', note: e.note ?? 'failure event', outcome: 'true_positive', leadMs },
          now,
        ),
      );
      this.counters.resolvedByFailure++;
      return true;
    }
    const recent = this.recentRisk(e, now);
    if (recent && recent.outcome !== 'true_positive')
      this.store.markTruePositive(recent.id, Math.max(0, e.ts - Number(recent.details.firstDataTs ?? e.ts)));
    return recent !== null;
  }

  /**
   * The risk alert that closed within `lateFailureGraceMs` before this failure, in data time (when
   * its risk went away, or the failure that resolved it), so that a fast replay judges like a live
   * plant. Alerts recorded before that time was kept fall back to when they were resolved.
   */
  private recentRisk(e: MachineEvent, now: number): Alert | null {
    const last = this.store.lastResolved(e.machine.machine, 'failure_risk', 0);
    if (!last) return null;
    const closedDataTs = Number(last.details.closedDataTs);
    const grace = graceOf(this.o.lateFailureGraceMs, e.machine.machine);
    if (!Number.isFinite(closedDataTs)) return last.resolved && last.resolved.at >= now - grace ? last : null;
    // A failure stamped while the alert was open (recorded late) counts too, one before it opened does not.
    const firstDataTs = Number(last.details.firstDataTs ?? closedDataTs);
    return e.ts >= firstDataTs && e.ts - closedDataTs <= grace ? last : null;
  }

  /**
   * Opens or resolves data-quality alerts for the conditions that changed since the last check. When
   * many machines are silent at once (a line or a bridge went down) one gateway alert says so instead
   * of one alert — and a notification per channel — for each of them. All at once (tests, small
   * fleets); the daemon checks in slices (checkQualityInSlices).
   */
  checkQuality(): void {
    const now = this.clock.now();
    const newlySilent: QualityCondition[] = [];
    const summary = this.quality.check(
      now,
      (c) => this.onCondition(c, newlySilent, now),
      (machine) => this.store.hasUnresolved(machine),
    );
    this.finishQualityCheck(summary, newlySilent, now);
  }

  private slicing = false;

  /**
   * The same check, `slice` machines per turn of the event loop, so that a check of tens of
   * thousands of machines never holds up MQTT and HTTP for long. A check still running when the next
   * is due is not started twice.
   */
  checkQualityInSlices(slice = 5000): void {
    if (this.slicing) return;
    this.slicing = true;
    const now = this.clock.now();
    const newlySilent: QualityCondition[] = [];
    const step = () => {
      try {
        const summary = this.quality.checkSome(
          now,
          (c) => this.onCondition(c, newlySilent, now),
          (machine) => this.store.hasUnresolved(machine),
          slice,
        );
        if (!summary) return void setImmediate(step);
        this.slicing = false;
        this.finishQualityCheck(summary, newlySilent, now);
      } catch (err) {
        this.slicing = false;
        this.log.error({ err }, 'data-quality check failed; it runs again at its next interval');
      }
    };
    step();
  }

  private onCondition(c: QualityCondition, newlySilent: QualityCondition[], now: number): void {
    if (c.kind === 'machine_stale' && c.active) newlySilent.push(c);
    else this.applyCondition(c, now);
  }

  private finishQualityCheck(summary: QualitySummary, newlySilent: QualityCondition[], now: number): void {
    const mass = summary.staleMachines >= this.o.silentMachinesSummary;
    const gateway = this.store.findUnresolved(GATEWAY_REF.machine, 'machines_silent');
    if (mass) {
      const since = new Date(summary.silentSince ?? now).toISOString();
      const message = `${summary.staleMachines} machines silent since ${since} (of ${summary.machines} watched)`;
      const details = {
        machines: summary.staleMachines,
        watched: summary.machines,
        silentSince: since,
        examples: newlySilent.slice(0, 20).map((c) => c.machine.machine),
      };
      if (!gateway)
        this.emitEvent(this.store.open({ machine: GATEWAY_REF, kind: 'machines_silent', severity: 'critical', message, details }, now));
      else if (gateway.details.machines !== summary.staleMachines)
        this.store.update(
          gateway.id,
          { severity: gateway.severity, message, details: { ...details, examples: gateway.details.examples } },
          now,
        );
      return;
    }
    if (gateway) {
      this.emitEvent(
        this.store.resolve(
          gateway.id,
          {
            by: 'vigil',
            resolution: 'recovered',
            note: `${summary.staleMachines} machines silent now, below ${this.o.silentMachinesSummary}`,
          },
          now,
        ),
      );
      // The few still silent get an alert of their own now that they are not part of a mass event.
      const already = new Set(newlySilent.map((c) => c.machine.machine));
      for (const ref of this.quality.staleMachines()) {
        if (already.has(ref.machine)) continue;
        newlySilent.push({
          machine: ref,
          kind: 'machine_stale',
          subject: '',
          active: true,
          message: `no data from ${ref.machine} (silent since the mass silence)`,
          details: {},
        });
      }
    }
    for (const c of newlySilent) this.applyCondition(c, now);
  }

  private applyCondition(c: QualityCondition, now: number): void {
    const existing = this.store.findUnresolved(c.machine.machine, c.kind, c.subject);
    if (c.active && !existing)
      this.emitEvent(
        this.store.open(
          { machine: c.machine, kind: c.kind, subject: c.subject, severity: 'warning', message: c.message, details: c.details },
          now,
        ),
      );
    else if (!c.active && existing)
      this.emitEvent(this.store.resolve(existing.id, { by: 'vigil', resolution: 'recovered', note: c.message }, now));
  }

  /** A technician acknowledges an alert; on an anomaly alert, with a verdict when one is given. */
  acknowledge(id: number, by: string, note: string | null, verdict?: Verdict): AlertEvent {
    const judged = verdict ? this.judged(id, verdict, by) : undefined;
    const ev = this.store.acknowledge(id, by, note, this.clock.now(), judged);
    this.emitEvent(ev);
    return ev;
  }

  /**
   * A technician closes an alert; for a risk alert that is a false alarm unless a failure follows
   * soon; for an anomaly alert, what its verdict says (none: not judged).
   */
  resolve(id: number, by: string, note: string | null, verdict?: Verdict): AlertEvent {
    const alert = this.store.get(id);
    const judged = verdict ? this.judged(id, verdict, by) : undefined;
    const outcome = judged ? judged.outcome : alert?.kind === 'failure_risk' ? 'false_alarm' : null;
    const ev = this.store.resolve(id, { by, resolution: 'technician', note, outcome, ...(verdict ? { verdict } : {}) }, this.clock.now());
    if (alert?.kind === 'failure_risk') this.rules.get(alert.machine.machine)?.reset(false);
    this.emitEvent(ev);
    return ev;
  }

  /** A verdict is for anomaly alerts: the outcome it gives, recorded for the next health model. */
  private judged(id: number, verdict: Verdict, by: string): { verdict: Verdict; outcome: Alert['outcome'] } {
    const alert = this.store.get(id);
    if (!alert) throw new AlertNotFoundError(id);
    if (alert.kind !== 'anomaly' || !this.anomaly) throw new AlertVerdictError(id, alert.kind);
    return { verdict, outcome: this.anomaly.verdictOf(alert, verdict, by) };
  }

  /** The p(failure) at which a risk alert opens for the machine: configured, or its champion's, once scored. */
  thresholdFor(machine: string): number | null {
    return this.o.high ?? this.rules.get(machine)?.high ?? null;
  }

  private ruleFor(machine: string, high: number): HysteresisRule {
    let rule = this.rules.get(machine);
    if (!rule) {
      rule = new HysteresisRule({ high, low: Math.min(this.o.low, high), openAfter: this.o.openAfter, closeAfter: this.o.closeAfter });
      // After a restart the rule resumes from the persisted alert, so no duplicate opens.
      if (this.store.findUnresolved(machine, 'failure_risk')) rule.reset(true);
      this.rules.set(machine, rule);
    } else {
      rule.setHigh(high, Math.min(this.o.low, high));
    }
    return rule;
  }

  private emitEvent(ev: AlertEvent | null): void {
    if (ev) this.emit('event', ev);
  }
}

/** A verdict was given on an alert that takes none (only anomaly alerts do). */
export class AlertVerdictError extends Error {
  constructor(
    readonly id: number,
    readonly kind: string,
  ) {
    super(`alert ${id} is a ${kind} alert; verdicts (normal, abnormal, failure) are for anomaly alerts`);
    this.name = 'AlertVerdictError';
  }
}
