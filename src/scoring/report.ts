import { Type } from '@sinclair/typebox';
import { stageReport, type StageReport } from '../core/stage-report.js';
import type { ScoringService } from './service.js';

/** Per-machine series in /metrics: the highest risks only, so a fleet of tens of thousands is not as many series per scrape. */
export const MAX_MACHINE_SERIES = 1000;

export const scoringFields = {
  enabled: Type.Boolean(),
  champion: Type.Union([Type.String(), Type.Null()]),
  machines: Type.Integer(),
  machinesScored: Type.Integer(),
  machinesDown: Type.Integer({ description: 'machines failed and not repaired yet: not scored' }),
  machinesWithHealth: Type.Integer({ description: 'machines with a current health index (their kind has a health model)' }),
  healthChampions: Type.Record(Type.String(), Type.String(), { description: 'the health champion of each kind' }),
  scoresTotal: Type.Integer(),
  scoresWithMissingInputs: Type.Integer({
    description: 'scores where a model input had no reading in the window (held at its training mean)',
  }),
  lastBatchMs: Type.Union([Type.Number(), Type.Null()]),
  lastBatchSize: Type.Integer(),
  errors: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
};

export const scoringIngestFields = {
  lateReadings: Type.Integer({
    description: "readings older than their machine's scoring window (or its current run) when they arrived: stored, not scored",
  }),
};

export function scoringReports(
  scoring: ScoringService,
  enabled: boolean,
): [StageReport<typeof scoringFields>, StageReport<typeof scoringIngestFields>] {
  const s = scoring.stats;
  const machine = (pick: (score: { probability: number; rulMs: number }) => number) => () =>
    scoring
      .topScores(MAX_MACHINE_SERIES)
      .map((m) => [{ site: m.ref.site, line: m.ref.line, machine: m.ref.machine }, pick(m.score)] as const);
  return [
    stageReport({
      section: 'scoring',
      fields: scoringFields,
      read: () => {
        const counts = scoring.counts();
        return {
          enabled,
          champion: scoring.championVersion,
          machines: counts.machines,
          machinesScored: counts.scored,
          machinesDown: counts.down,
          machinesWithHealth: counts.health,
          healthChampions: scoring.healthChampionVersions(),
          scoresTotal: s.scored,
          scoresWithMissingInputs: s.scoredWithMissingInputs,
          lastBatchMs: s.lastBatchMs,
          lastBatchSize: s.lastBatchSize,
          errors: s.errors,
          lastError: s.lastError,
        };
      },
      metrics: [
        { name: 'vigil_scoring_scores_total', help: 'machine scores computed', type: 'counter', read: () => s.scored },
        {
          name: 'vigil_scoring_missing_inputs_total',
          help: 'machine scores computed with a model input that had no reading in the window',
          type: 'counter',
          read: () => s.scoredWithMissingInputs,
        },
        { name: 'vigil_scoring_errors_total', help: 'scoring rounds that failed', type: 'counter', read: () => s.errors },
        {
          name: 'vigil_scoring_last_batch_seconds',
          help: 'inference time of the last scoring batch',
          type: 'gauge',
          read: () => (s.lastBatchMs === null ? null : s.lastBatchMs / 1000),
        },
        { name: 'vigil_machines', help: 'machines seen since start', type: 'gauge', read: () => scoring.counts().machines },
        {
          name: 'vigil_machine_failure_probability',
          help: 'latest p(failure within the horizon) per machine',
          type: 'gauge',
          labelNames: ['site', 'line', 'machine'],
          read: machine((m) => m.probability),
        },
        {
          name: 'vigil_machine_health_index',
          help: 'latest health index per machine (100 = like its kind’s normal), the lowest ones',
          type: 'gauge',
          labelNames: ['site', 'line', 'machine'],
          read: () =>
            scoring
              .lowestHealth(MAX_MACHINE_SERIES)
              .map((m) => [{ site: m.ref.site, line: m.ref.line, machine: m.ref.machine }, m.health.index] as const),
        },
        {
          name: 'vigil_machines_with_health',
          help: 'machines with a current health index',
          type: 'gauge',
          read: () => scoring.counts().health,
        },
        {
          name: 'vigil_machine_rul_seconds',
          help: 'latest remaining-useful-life estimate per machine',
          type: 'gauge',
          labelNames: ['site', 'line', 'machine'],
          read: machine((m) => m.rulMs / 1000),
        },
      ],
    }),
    stageReport({
      section: 'ingest',
      fields: scoringIngestFields,
      read: () => ({ lateReadings: s.lateReadings }),
      metrics: [
        {
          name: 'vigil_ingest_late_readings_total',
          help: "readings older than their machine's scoring window when they arrived (stored, not scored)",
          type: 'counter',
          read: () => s.lateReadings,
        },
      ],
    }),
  ];
}
