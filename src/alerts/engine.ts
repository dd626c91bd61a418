import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MachineEvent, MachineRef } from '../core/types.js';
import { AlertStore } from './alert-store.js';
import type { QualityMonitor } from './quality.js';
import { RiskRule } from './risk-rule.js';
import type { AlertEvent, Severity } from './types.js';

export interface RiskScore {
  machine: MachineRef;
  /** Data time of the window's last step. */
  dataTs: number;
  probability: number;
  /** Remaining useful life in steps. */
  rulSteps: number;
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
  /** A failure this long after a risk alert closed still counts as announced by it. */
  lateFailureGraceMs: number;
}

/**
 * Turns scores, machine events and data-quality conditions into alerts, through their lifecycle, in
 * the alert store. Emits `event` (AlertEvent) for every recorded change so the SSE stream and the
 * outbox can act at once instead of polling.
 */
export class AlertEngine extends EventEmitter {
  private readonly rules = new Map<string, RiskRule>();
  readonly counters = { scoresSeen: 0, opened: 0, resolvedByFailure: 0, missedFailures: 0 };

  constructor(
    readonly store: AlertStore,
    private readonly quality: QualityMonitor,
    private readonly o: RiskOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    super();
  }

  onScore(s: RiskScore, championThreshold: number): void {
    this.counters.scoresSeen++;
    const high = this.o.high ?? championThreshold;
    const rule = this.ruleFor(s.machine.machine, high);
    const transition = rule.observe(s.probability);
    if (transition === null) return;
    const now = this.clock.now();
    const severity: Severity = s.probability >= this.o.criticalProbability || s.rulSteps <= this.o.criticalRul ? 'critical' : 'warning';
    const message = `${s.machine.machine}: failure risk ${(s.probability * 100).toFixed(0)}%, RUL about ${Math.round(s.rulSteps)} steps${
      s.topSensors.length ? ` (driven by ${s.topSensors.map((t) => t.sensor).join(', ')})` : ''
    }`;
    const details = { probability: s.probability, rulSteps: s.rulSteps, model: s.model, threshold: high, topSensors: s.topSensors, dataTs: s.dataTs };
    const existing = this.store.findUnresolved(s.machine.machine, 'failure_risk');
    if (transition === 'open' && !existing) {
      const firstDataTs = s.dataTs;
      this.emitEvent(this.store.open({ machine: s.machine, kind: 'failure_risk', severity, message, details: { ...details, firstDataTs } }, now));
      this.counters.opened++;
    } else if ((transition === 'update' || transition === 'open') && existing) {
      this.emitEvent(this.store.update(existing.id, { severity, message, details: { ...details, firstDataTs: existing.details.firstDataTs ?? s.dataTs } }, now));
    } else if (transition === 'close' && existing) {
      this.emitEvent(
        this.store.resolve(existing.id, { by: 'vigil', resolution: 'recovered', note: `risk below ${this.o.low} for ${this.o.closeAfter} scores`, outcome: 'false_alarm' }, now),
      );
    }
  }

  /** Failure events close the loop: the open risk alert was right (lead time recorded), or the failure was missed. */
  onMachineEvent(e: MachineEvent): void {
    if (e.type !== 'failure') return;
    const now = this.clock.now();
    const open = this.store.findUnresolved(e.machine.machine, 'failure_risk');
    this.rules.get(e.machine.machine)?.reset(false);
    if (open) {
      const leadMs = Math.max(0, e.ts - Number(open.details.firstDataTs ?? e.ts));
      this.emitEvent(this.store.resolve(open.id, { by: 'vigil', resolution: 'failure', note: e.note ?? 'failure event', outcome: 'true_positive', leadMs }, now));
      this.counters.resolvedByFailure++;
      return;
    }
    const recent = this.store.lastResolvedRisk(e.machine.machine, now - this.o.lateFailureGraceMs);
    if (recent && recent.outcome !== 'true_positive') {
      this.store.markTruePositive(recent.id, Math.max(0, e.ts - Number(recent.details.firstDataTs ?? e.ts)));
      return;
    }
    if (recent) return;
    this.store.recordMiss(e.machine.machine, e.ts, now);
    this.counters.missedFailures++;
    this.log.warn({ machine: e.machine.machine }, 'failure with no failure-risk alert before it');
  }

  /** Opens, updates or resolves data-quality alerts from the monitor's current view. */
  checkQuality(): void {
    const now = this.clock.now();
    for (const c of this.quality.check(now)) {
      const existing = this.store.findUnresolved(c.machine.machine, c.kind, c.subject);
      if (c.active && !existing) this.emitEvent(this.store.open({ machine: c.machine, kind: c.kind, subject: c.subject, severity: 'warning', message: c.message, details: c.details }, now));
      else if (c.active && existing) this.store.update(existing.id, { severity: existing.severity, message: c.message, details: c.details }, now);
      else if (!c.active && existing) this.emitEvent(this.store.resolve(existing.id, { by: 'vigil', resolution: 'recovered', note: c.message }, now));
    }
  }

  acknowledge(id: number, by: string, note: string | null): AlertEvent {
    const ev = this.store.acknowledge(id, by, note, this.clock.now());
    this.emitEvent(ev);
    return ev;
  }

  /** A technician closes an alert; for a risk alert that is a false alarm unless a failure follows soon. */
  resolve(id: number, by: string, note: string | null): AlertEvent {
    const alert = this.store.get(id);
    const ev = this.store.resolve(id, { by, resolution: 'technician', note, outcome: alert?.kind === 'failure_risk' ? 'false_alarm' : null }, this.clock.now());
    if (alert?.kind === 'failure_risk') this.rules.get(alert.machine.machine)?.reset(false);
    this.emitEvent(ev);
    return ev;
  }

  private ruleFor(machine: string, high: number): RiskRule {
    let rule = this.rules.get(machine);
    if (!rule) {
      rule = new RiskRule({ high, low: Math.min(this.o.low, high), openAfter: this.o.openAfter, closeAfter: this.o.closeAfter });
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
