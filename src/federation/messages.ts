/**
 * The three messages of a federation, as headers of a wire frame (wire.ts):
 * - `plan` (coordinator → gateways, retained): what to do now — send statistics, train a round from
 *   the global weights in the body, or take the final model — and by when;
 * - `stats` (gateway → coordinator): per-sensor counts, means and sums of squared deviations of its
 *   training split (and of its smoothed readings, when the model smooths them), never a reading;
 * - `update` (gateway → coordinator): its round's weight change in the body and how many windows it
 *   trained on.
 */
import { Type, type Static } from '@sinclair/typebox';
import { NormalisationSchema } from '../registry/index.js';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const Finite = Type.Number({ minimum: -1e300, maximum: 1e300 });

export const RoundParamsSchema = Type.Object({
  epochs: Type.Integer({ minimum: 1, maximum: 100 }),
  batchSize: Type.Integer({ minimum: 1, maximum: 4096 }),
  learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  /** FedProx: weight of the pull towards the global weights in each client's loss (0 = FedAvg). */
  mu: Type.Number({ minimum: 0, maximum: 100 }),
  /** Weight of a late RUL error in each client's loss; absent from coordinators before the option: 1. */
  rulLateWeight: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
  seed: Type.Integer(),
  /** Update clipping and Gaussian noise (client side), or null for none. */
  privacy: Type.Union([
    Type.Object({ clipNorm: Type.Number({ exclusiveMinimum: 0 }), noiseMultiplier: Type.Number({ minimum: 0, maximum: 100 }) }),
    Type.Null(),
  ]),
});
export type RoundParams = Static<typeof RoundParamsSchema>;

export const ModelShapeSchema = Type.Object({
  window: Type.Integer({ minimum: 1, maximum: 10_000 }),
  stride: Type.Integer({ minimum: 1, maximum: 10_000 }),
  stepMs: Type.Number({ exclusiveMinimum: 0 }),
  horizon: Type.Integer({ minimum: 1 }),
  rulCap: Type.Integer({ minimum: 1 }),
  units: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 8 }),
  /** Absent from coordinators before the option: the last state. */
  pooling: Type.Optional(Type.Union([Type.Literal('last'), Type.Literal('attention')])),
  attentionUnits: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  /** Weight of the newest step in the inputs' smoothing; absent from coordinators before the option: none. */
  smoothing: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  dropout: Type.Number({ minimum: 0, maximum: 0.9 }),
  validationFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
  positiveShare: Type.Number({ minimum: 0, maximum: 0.9 }),
});
export type ModelShape = Static<typeof ModelShapeSchema>;

export const WeightLayoutSchema = Type.Array(
  Type.Object({ name: Type.String({ maxLength: 200 }), shape: Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 4 }) }),
  { maxItems: 256 },
);
export type WeightLayout = Static<typeof WeightLayoutSchema>;

export const PlanSchema = Type.Object({
  type: Type.Literal('plan'),
  federation: Id,
  kind: Id,
  /** One run of the coordinator: a restart starts a new session, so old rounds cannot be replayed into it. */
  session: Id,
  task: Type.Union([Type.Literal('stats'), Type.Literal('round'), Type.Literal('final')]),
  /** 0 for statistics; 1… for training rounds; the last round for the final model. */
  round: Type.Integer({ minimum: 0, maximum: 100_000 }),
  rounds: Type.Integer({ minimum: 1, maximum: 100_000 }),
  issuedAt: Type.Number(),
  deadline: Type.Number(),
  params: RoundParamsSchema,
  shape: ModelShapeSchema,
  /** Sensors the kind's model reads (from the statistics round on). */
  sensors: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 2000 }),
  normalisation: Type.Optional(NormalisationSchema),
  layout: Type.Optional(WeightLayoutSchema),
  /** The gateways whose updates made the weights in the body. */
  clients: Type.Array(Id, { maxItems: 10_000 }),
  /** Aggregate of the last round's client metrics (weighted by samples), when there was one. */
  metrics: Type.Optional(
    Type.Object({
      trainLoss: Finite,
      validationRmse: Type.Union([Finite, Type.Null()]),
      validationPrAuc: Type.Union([Finite, Type.Null()]),
    }),
  ),
});
export type Plan = Static<typeof PlanSchema>;

export const StatsSchema = Type.Object({
  type: Type.Literal('stats'),
  federation: Id,
  kind: Id,
  session: Id,
  client: Id,
  sensors: Type.Array(Type.String({ maxLength: 200 }), { minItems: 1, maxItems: 2000 }),
  count: Type.Array(Type.Integer({ minimum: 0 })),
  mean: Type.Array(Finite),
  m2: Type.Array(Type.Number({ minimum: 0, maximum: 1e300 })),
  /** The same moments of the readings smoothed as the plan's shape says (sent when it smooths). */
  smoothed: Type.Optional(
    Type.Object({
      count: Type.Array(Type.Integer({ minimum: 0 })),
      mean: Type.Array(Finite),
      m2: Type.Array(Type.Number({ minimum: 0, maximum: 1e300 })),
    }),
  ),
  machines: Type.Integer({ minimum: 0 }),
  failures: Type.Integer({ minimum: 0 }),
});
export type Stats = Static<typeof StatsSchema>;

export const UpdateSchema = Type.Object({
  type: Type.Literal('update'),
  federation: Id,
  kind: Id,
  session: Id,
  client: Id,
  round: Type.Integer({ minimum: 1 }),
  /** Training windows it learned from this round (the FedAvg weight). */
  samples: Type.Integer({ minimum: 1, maximum: 1e9 }),
  metrics: Type.Object({
    trainLoss: Finite,
    validationRmse: Type.Union([Finite, Type.Null()]),
    validationPrAuc: Type.Union([Finite, Type.Null()]),
    trainMs: Type.Number({ minimum: 0 }),
    energyJ: Type.Number({ minimum: 0 }),
  }),
  /** The update's L2 norm (after clipping, with privacy on), whether it was clipped to C and noised. */
  norm: Type.Number({ minimum: 0 }),
  clipped: Type.Boolean(),
  noised: Type.Boolean(),
});
export type Update = Static<typeof UpdateSchema>;

export type FederationHeader = Plan | Stats | Update;
export type MessageType = FederationHeader['type'];

export const HEADER_SCHEMAS = { plan: PlanSchema, stats: StatsSchema, update: UpdateSchema } as const;

/** Topics under the federation's prefix: `{prefix}/{federation}/{kind}/plan|stats/{client}|update/{client}`. */
export const topics = {
  plan: (prefix: string, federation: string, kind: string) => `${prefix}/${federation}/${kind}/plan`,
  stats: (prefix: string, federation: string, kind: string, client: string) => `${prefix}/${federation}/${kind}/stats/${client}`,
  update: (prefix: string, federation: string, kind: string, client: string) => `${prefix}/${federation}/${kind}/update/${client}`,
};
