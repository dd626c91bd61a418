import type { MachineRef } from '../core/types.js';

/**
 * `machines_silent` is the gateway's one alert for many silent machines at once (see
 * alerts.silentMachinesSummary); `machine_offline` is one per Sparkplug edge node or device that
 * sent a DEATH, standing for its machines instead of a stale alert each.
 */
export const ALERT_KINDS = [
  'failure_risk',
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
/** For failure-risk alerts: did a failure follow (true positive) or not (false alarm)? */
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

export interface AlertQuality {
  /** Daemon time the figures cover: from (null: nothing recorded yet) to (null: now). */
  period: { from: number | null; to: number | null };
  /** Failure-risk alerts followed by a failure / closed without one / failures no alert announced. */
  truePositives: number;
  falseAlarms: number;
  missedFailures: number;
  precision: number | null;
  recall: number | null;
  meanLeadMs: number | null;
}
