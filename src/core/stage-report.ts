import type { Static, TObject, TProperties } from '@sinclair/typebox';

/** Labels and value of one Prometheus sample. */
export type MetricSample = readonly [labels: Record<string, string>, value: number];

/**
 * One Prometheus metric a stage keeps, read at scrape time from the stage's own counters (nothing
 * is tallied twice on a hot path). `read` returns one value, labelled samples, or null for none.
 */
export interface StageMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labelNames?: readonly string[];
  read(): number | null | readonly MetricSample[];
}

/**
 * What one stage contributes to the daemon's status (`GET /api/v1/status`, one section or part of
 * one), to `/metrics` and to readiness, as Telegraf's plugins report their self-stats. A new counter
 * is a change to the stage's report alone: its field, its value and, when Prometheus should have it,
 * its metric. The status schema is composed from the reports' fields (api/status-model.ts).
 */
export interface StageReport<P extends TProperties = TProperties> {
  /** The status section these fields belong to (several stages may fill one); null for metrics only. */
  section: string | null;
  fields: P;
  read(): Static<TObject<P>>;
  metrics?: readonly StageMetric[];
  /** Why the daemon is not ready to take data, as far as this stage knows; empty when it is. */
  notReady?(): string[];
}

/** A report typed by its fields, for stages to declare without repeating the type. */
export function stageReport<P extends TProperties>(report: StageReport<P>): StageReport<P> {
  return report;
}

/** Named map of counts as labelled samples. */
export function labelled(label: string, counts: Record<string, number>): MetricSample[] {
  return Object.entries(counts).map(([k, v]) => [{ [label]: k }, v] as const);
}
