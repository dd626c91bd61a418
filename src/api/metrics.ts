import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Everything /metrics reports, read from the stages at scrape time (no bookkeeping on hot paths). */
export interface MetricsSnapshot {
  messages: { accepted: number; rejected: number };
  readingsAccepted: number;
  lateReadings: number;
  backfillReadings: number;
  machinesTracked: number;
  untrackedMessages: number;
  rejectsByReason: Record<string, number>;
  journal: { depth: number; bytes: number };
  store: { commits: number; commitFailures: number; lastCommitMs: number | null; pendingSamples: number; pendingBytes: number; up: boolean };
  scoring: { scored: number; scoredWithMissingInputs: number; batches: number; errors: number; lastBatchMs: number | null; machines: number };
  eventLoopLagMs: { p50: number; p99: number; max: number };
  alertsByState: Record<string, number>;
  unresolvedByKind: Record<string, number>;
  deliveriesByState: Record<string, number>;
  trainingRunsByState: Record<string, number>;
  /** Latest score per machine: the highest risks, at most MAX_MACHINE_SERIES of them. */
  machineScores?: Array<{ site: string; line: string; machine: string; probability: number; rulSeconds: number }>;
  energy?: { joulesTotal: number; gCO2eTotal: number; avoidedGCO2eTotal: number; runsMeasured: number; decisionsByAction: Record<string, number> };
}

type Collect = (snapshot: MetricsSnapshot) => void;

/** A Prometheus registry whose values are set from one snapshot per scrape. */
export function buildMetrics(read: () => MetricsSnapshot): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' });
  let snap: MetricsSnapshot | null = null;
  const collectors: Collect[] = [];
  // Counters are absolute totals kept by the stages; reset+inc sets them without a second tally.
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter, s: MetricsSnapshot) => void) => {
    const c = new Counter({ name, help, labelNames, registers: [registry] });
    collectors.push((s) => {
      c.reset();
      fill(c, s);
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: MetricsSnapshot) => void) => {
    const g = new Gauge({ name, help, labelNames, registers: [registry] });
    collectors.push((s) => {
      g.reset();
      fill(g, s);
    });
  };
  const each = (m: Record<string, number>, label: string, set: (labels: Record<string, string>, v: number) => void) => {
    for (const [k, v] of Object.entries(m)) set({ [label]: k }, v);
  };

  counter('vigil_ingest_messages_total', 'MQTT messages by result', ['result'], (c, s) => {
    c.inc({ result: 'accepted' }, s.messages.accepted);
    c.inc({ result: 'rejected' }, s.messages.rejected);
  });
  counter('vigil_ingest_readings_total', 'sensor readings accepted', [], (c, s) => c.inc(s.readingsAccepted));
  counter('vigil_ingest_late_readings_total', "readings older than their machine's scoring window when they arrived (stored, not scored)", [], (c, s) => c.inc(s.lateReadings));
  counter('vigil_ingest_backfill_readings_total', 'readings stamped more than ingest.backfillAge before arrival (stored, not watched)', [], (c, s) => c.inc(s.backfillReadings));
  counter('vigil_ingest_untracked_messages_total', 'messages of machines beyond ingest.maxMachines (stored, not scored or watched)', [], (c, s) => c.inc(s.untrackedMessages));
  gauge('vigil_machines_tracked', 'machines scored and watched (at most ingest.maxMachines)', [], (g, s) => g.set(s.machinesTracked));
  counter('vigil_ingest_rejects_total', 'rejected messages or parts, by reason', ['reason'], (c, s) => each(s.rejectsByReason, 'reason', (l, v) => c.inc(l, v)));
  gauge('vigil_journal_depth_records', 'journalled records not yet committed to the store', [], (g, s) => g.set(s.journal.depth));
  gauge('vigil_journal_bytes', 'journal size on disk', [], (g, s) => g.set(s.journal.bytes));
  counter('vigil_store_commits_total', 'store commits by result', ['result'], (c, s) => {
    c.inc({ result: 'ok' }, s.store.commits);
    c.inc({ result: 'failed' }, s.store.commitFailures);
  });
  gauge('vigil_store_last_commit_seconds', 'duration of the last store commit', [], (g, s) => s.store.lastCommitMs !== null && g.set(s.store.lastCommitMs / 1000));
  gauge('vigil_store_up', '1 when the sensor store accepts writes', [], (g, s) => g.set(s.store.up ? 1 : 0));
  gauge('vigil_store_pending_samples', 'samples held in memory for the store', [], (g, s) => g.set(s.store.pendingSamples));
  gauge('vigil_store_pending_bytes', 'memory held by samples queued as line protocol (InfluxDB)', [], (g, s) => g.set(s.store.pendingBytes));
  counter('vigil_scoring_scores_total', 'machine scores computed', [], (c, s) => c.inc(s.scoring.scored));
  counter('vigil_scoring_missing_inputs_total', 'machine scores computed with a model input that had no reading in the window', [], (c, s) => c.inc(s.scoring.scoredWithMissingInputs));
  counter('vigil_scoring_errors_total', 'scoring rounds that failed', [], (c, s) => c.inc(s.scoring.errors));
  gauge('vigil_scoring_last_batch_seconds', 'inference time of the last scoring batch', [], (g, s) => s.scoring.lastBatchMs !== null && g.set(s.scoring.lastBatchMs / 1000));
  gauge('vigil_machines', 'machines seen since start', [], (g, s) => g.set(s.scoring.machines));
  gauge('vigil_machine_failure_probability', 'latest p(failure within the horizon) per machine', ['site', 'line', 'machine'], (g, s) =>
    s.machineScores?.forEach((m) => g.set({ site: m.site, line: m.line, machine: m.machine }, m.probability)),
  );
  gauge('vigil_machine_rul_seconds', 'latest remaining-useful-life estimate per machine', ['site', 'line', 'machine'], (g, s) =>
    s.machineScores?.forEach((m) => g.set({ site: m.site, line: m.line, machine: m.machine }, m.rulSeconds)),
  );
  gauge('vigil_event_loop_lag_seconds', 'event-loop delay of the daemon thread', ['quantile'], (g, s) => {
    g.set({ quantile: '0.5' }, s.eventLoopLagMs.p50 / 1000);
    g.set({ quantile: '0.99' }, s.eventLoopLagMs.p99 / 1000);
    g.set({ quantile: '1' }, s.eventLoopLagMs.max / 1000);
  });
  gauge('vigil_alerts', 'alerts by state', ['state'], (g, s) => each(s.alertsByState, 'state', (l, v) => g.set(l, v)));
  gauge('vigil_alerts_unresolved', 'unresolved alerts by kind', ['kind'], (g, s) => each(s.unresolvedByKind, 'kind', (l, v) => g.set(l, v)));
  gauge('vigil_notification_deliveries', 'notification deliveries by state', ['state'], (g, s) => each(s.deliveriesByState, 'state', (l, v) => g.set(l, v)));
  gauge('vigil_training_runs', 'training runs by final state', ['state'], (g, s) => each(s.trainingRunsByState, 'state', (l, v) => g.set(l, v)));
  counter('vigil_energy_joules_total', 'energy measured for training runs', [], (c, s) => s.energy && c.inc(s.energy.joulesTotal));
  counter('vigil_energy_gco2e_total', 'emissions of training runs at the grid intensity during each run', [], (c, s) => s.energy && c.inc(s.energy.gCO2eTotal));
  counter('vigil_energy_avoided_gco2e_total', 'emissions avoided by shifting runs, against starting when each was due', [], (c, s) => s.energy && c.inc(s.energy.avoidedGCO2eTotal));
  gauge('vigil_energy_runs_measured', 'training runs with an energy record', [], (g, s) => s.energy && g.set(s.energy.runsMeasured));
  gauge('vigil_energy_decisions', 'energy policy decisions kept (90 days), by action', ['action'], (g, s) => s.energy && each(s.energy.decisionsByAction, 'action', (l, v) => g.set(l, v)));

  // One snapshot per scrape, taken by the first collector that runs.
  const original = registry.metrics.bind(registry);
  registry.metrics = async () => {
    snap = read();
    for (const c of collectors) c(snap);
    return original();
  };
  return registry;
}

export function metricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', { config: { role: 'viewer' }, schema: { hide: true } }, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });
}
