import type { MachineRef } from '../core/types.js';
import type { Verdict } from '../core/verdict-book.js';

/**
 * `failure_risk` comes from a kind's failure model, `anomaly` from its health model (the machine
 * departs from its kind's normal behaviour; technicians' verdicts on it teach the next model).
 * `machines_silent` is the gateway's one alert for many silent machines at once (see
 * alerts.silentMachinesSummary); `machine_offline` is one per Sparkplug edge node or device that
 * sent a DEATH, standing for its machines instead of a stale alert each.
 */
export const ALERT_KINDS = [
  'failure_risk',
  'anomaly',
  'machine_stale',
  'sensor_stale',
  'flatline',
  'out_of_range',
  'machines_silent',
  'machine_offline',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export type Severity = 'warning' | 'critical';
/** How an alert ended: the condition cleared, a person closed it, or the predicted failure happened. */
export type Resolution = 'recovered' | 'technician' | 'failure';
/**
 * For failure-risk and anomaly alerts: right (a failure followed, or a technician found a real problem)
 * or a false alarm (closed without one, or called normal).
 */
export type Outcome = 'true_positive' | 'false_alarm';

export interface Alert {
  id: number;
  machine: MachineRef;
  kind: AlertKind;
  /** The sensor for per-sensor kinds; '' otherwise. At most one unresolved alert per (machine, kind, subject). */
  subject: string;
  severity: Severity;
  state: AlertState;
  message: string;
  details: Record<string, unknown>;
  openedAt: number;
  updatedAt: number;
  updates: number;
  acknowledged: { at: number; by: string; note: string | null } | null;
  resolved: { at: number; by: string; resolution: Resolution; note: string | null } | null;
  outcome: Outcome | null;
  leadMs: number | null;
  /** Escalation steps taken while nobody acknowledged it, oldest first (alerts.escalation). */
  escalations: Escalation[];
  /** A technician's verdict on an anomaly alert: normal, abnormal or failure. */
  verdict: { verdict: Verdict; by: string; at: number } | null;
}

/** One escalation step an open alert took: the rule's key, when, a raised severity, who was told. */
export interface Escalation {
  /** `{severity}:{index}` of the rule in alerts.escalation. */
  step: string;
  at: number;
  /** The severity it was raised to, if the step raises it. */
  raisedTo: Severity | null;
  /** Outbox channels the escalation went to. */
  channels: string[];
}

export type AlertEventType = 'opened' | 'updated' | 'escalated' | 'acknowledged' | 'resolved';

/** One change of an alert: what notifications and the SSE stream carry. */
export interface AlertEvent {
  id: number;
  type: AlertEventType;
  at: number;
  alert: Alert;
}

/** How one model role's alerts did: right, false alarms, failures they missed while a model of that role watched. */
export interface RoleQuality {
  truePositives: number;
  falseAlarms: number;
  missedFailures: number;
  precision: number | null;
  recall: number | null;
  meanLeadMs: number | null;
}

export interface AlertQuality extends RoleQuality {
  /** Daemon time the figures cover: from (null: nothing recorded yet) to (null: now). */
  period: { from: number | null; to: number | null };
  /** Anomaly alerts (the health model): followed by a failure (early warnings) or called normal, and its misses. */
  anomaly: RoleQuality & {
    /** Anomaly alerts that closed by themselves with no verdict and no failure: not counted either way. */
    unjudged: number;
    verdicts: { normal: number; abnormal: number; failure: number };
  };
  /** Failures while the machine's kind had no model of either role: nobody was watching, so nothing was missed. */
  unwatchedFailures: number;
}
