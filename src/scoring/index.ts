/**
 * Online scoring as the composition root, alerts and the API see it: its builder and config, the
 * service's machine state and the report fields.
 */
export { buildScoring, type ScoringStage } from './build.js';
export { type ScoringConfig, ScoringSchema } from './config.js';
export { scoringFields, scoringIngestFields } from './report.js';
export { scoringSchema } from './schema.js';
export type { MachineHealth, MachineState, ScoringService } from './service.js';
