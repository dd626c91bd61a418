import { Type, type StaticDecode } from '@sinclair/typebox';
import { Duration, strict } from '../config/schema-parts.js';

export const ScoringSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    // At most one score per machine per interval: alert latency is bounded by it plus inference.
    interval: Duration('1s', { minimum: 1 }),
    maxBatch: Type.Integer({ minimum: 1, maximum: 4096, default: 256, description: 'machines per predict call' }),
    championPoll: Duration('5s', { minimum: 100 }),
    topSensors: Type.Integer({ minimum: 0, maximum: 32, default: 3, description: 'contributing sensors reported per score (0 = none)' }),
    historyRetention: Duration('7d', { minimum: 1 }),
  },
  { ...strict, description: "online scoring of every machine with its kind's champion" },
);

export type ScoringConfig = StaticDecode<typeof ScoringSchema>;
