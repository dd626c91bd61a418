import { stageReport, type StageReport } from '../core/stage-report.js';
import { Type } from '@sinclair/typebox';
import type { AlertStore } from './alert-store.js';
import type { AlertEvent, Severity } from './types.js';

/** One rule of alerts.escalation: after this long open and unacknowledged, raise and/or notify. */
export interface EscalationStep {
  after: number;
  raiseTo?: Severity;
  /** Outbox channels (`webhook:<name>`, `mqtt`); empty: every channel. */
  notify: string[];
}

export type EscalationRules = Record<Severity, EscalationStep[]>;

/**
 * Escalates alerts nobody acknowledged (ThingsBoard's "escalate an unacknowledged alarm"). Each step
 * of the alert's current severity whose `after` (measured from opening) has passed is taken once, in
 * order; a step that raises the severity hands over to the raised severity's steps. Acknowledging
 * (or resolving) stops it: only open alerts are looked at.
 */
export class Escalator {
  readonly counters = { escalations: 0, raised: 0 };

  constructor(
    private readonly store: AlertStore,
    private readonly rules: EscalationRules,
    private readonly emit: (ev: AlertEvent) => void,
  ) {}

  get enabled(): boolean {
    return this.rules.warning.length + this.rules.critical.length > 0;
  }

  /** Takes every step that is due at `now`; returns how many were taken. */
  check(now: number): number {
    if (!this.enabled) return 0;
    let taken = 0;
    for (let alert of this.store.openUnacknowledged()) {
      // At most one hand-over per severity: warning → critical → (critical's own steps).
      for (let guard = 0; guard < 3; guard++) {
        const steps = this.rules[alert.severity];
        let raised = false;
        for (let i = 0; i < steps.length; i++) {
          const step = steps[i]!;
          const key = `${alert.severity}:${i}`;
          if (now - alert.openedAt < step.after || alert.escalations.some((e) => e.step === key)) continue;
          const raiseTo = step.raiseTo && step.raiseTo !== alert.severity ? step.raiseTo : null;
          const ev = this.store.escalate(alert.id, { key, raiseTo, channels: step.notify }, now);
          if (!ev) break;
          taken++;
          this.counters.escalations++;
          this.emit(ev);
          alert = ev.alert;
          if (raiseTo) {
            this.counters.raised++;
            raised = true;
            break;
          }
        }
        if (!raised) break;
      }
    }
    return taken;
  }
}

export const escalationFields = {
  escalations: Type.Integer({ description: 'escalation steps taken by alerts nobody acknowledged (alerts.escalation)' }),
  escalationsRaised: Type.Integer({ description: 'of them, steps that raised the severity' }),
};

export function escalationReport(e: Escalator): StageReport<typeof escalationFields> {
  return stageReport({
    section: 'alerts',
    fields: escalationFields,
    read: () => ({ escalations: e.counters.escalations, escalationsRaised: e.counters.raised }),
    metrics: [
      {
        name: 'vigil_alert_escalations_total',
        help: 'escalation steps taken by unacknowledged alerts',
        type: 'counter',
        read: () => e.counters.escalations,
      },
    ],
  });
}
