import { Type } from '@sinclair/typebox';
import { Nullable } from '../../schemas.js';

/** The models resource's wire form: summaries, kinds, bodies and query strings, as JSON schemas the OpenAPI document shows. */
export const VersionParams = Type.Object({ version: Type.String({ pattern: '^v\\d{4,}$' }) }, { additionalProperties: false });
const Role = Type.Union([Type.Literal('failure'), Type.Literal('health')], {
  description: 'failure: predicts failures from labelled ones; health: learned from readings alone, how far a machine departs from normal',
});
export const Summary = Type.Object({
  version: Type.String(),
  kind: Type.String({ description: "the machine kind it serves ('*': from before kinds, serving kinds without their own)" }),
  role: Role,
  champion: Type.Boolean({ description: 'the champion of its kind in its role' }),
  transferredFrom: Nullable(Type.Object({ version: Type.String(), kind: Type.String() })),
  createdAt: Type.String(),
  parent: Nullable(Type.String()),
  decision: Type.Object({ promoted: Type.Boolean(), reason: Type.String() }),
  prAuc: Nullable(Type.Number({ description: 'failure models: validation PR-AUC' })),
  f1: Nullable(Type.Number()),
  rulRmse: Nullable(Type.Number()),
  healthThreshold: Nullable(Type.Number({ description: 'health models: the index below which anomaly alerts open' })),
  falseAlarmsPerMachineMonth: Nullable(Type.Number({ description: 'health models: expected at that threshold on held-out normal data' })),
  recipe: Type.String({
    description: "what it was trained with: step, window, horizon, RUL cap, LSTM units, conditions, and which of them its kind's own recipe set",
  }),
  backend: Type.String(),
});
export const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
export const RollbackBody = Type.Object(
  {
    version: Type.Optional(Type.String({ pattern: '^v\\d{4,}$' })),
    kind: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'whose champion to roll back; needed with several kinds' }),
    ),
    role: Type.Optional(Type.Union([Type.Literal('failure'), Type.Literal('health')], { description: 'which champion: failure (default) or health' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export const ListQuery = Type.Object(
  {
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'only versions of this machine kind' })),
    role: Type.Optional(Type.Union([Type.Literal('failure'), Type.Literal('health')], { description: 'only versions of this role' })),
  },
  { additionalProperties: false },
);
export const Kind = Type.Object({
  name: Type.String(),
  source: Type.Union([Type.Literal('config'), Type.Literal('inferred')]),
  machines: Type.Integer(),
  machineIds: Type.Array(Type.String(), { description: 'the first 50, sorted' }),
  sensors: Type.Array(Type.String(), { description: "the sensors its machines send: its model's only inputs" }),
  champion: Nullable(Type.String()),
  servedBy: Nullable(Type.String({ description: 'its champion, or a model from before kinds serving it' })),
  whyNoModel: Nullable(Type.String()),
  health: Type.Object(
    {
      champion: Nullable(Type.String()),
      whyNoModel: Nullable(Type.String({ description: 'e.g. learning normal: 9 h of 24 h' })),
    },
    { description: 'its health model, learned from readings alone' },
  ),
  recipe: Nullable(
    Type.Object(
      {
        stepMs: Type.Number(),
        window: Type.Integer(),
        smoothing: Type.Number({ description: "weight of the newest step in the inputs' smoothing (1 = none)" }),
        horizon: Type.Integer(),
        rulCap: Type.Integer(),
        conditions: Type.Array(Type.String()),
        units: Type.Array(Type.Integer()),
        pooling: Type.Union([Type.Literal('last'), Type.Literal('attention')], { description: 'what the heads read' }),
        rulLateWeight: Type.Number({ description: 'weight of a late RUL error against an early one in the loss (1 = plain)' }),
        members: Type.Integer(),
        health: Type.Object({ window: Type.Integer(), units: Type.Array(Type.Integer()) }),
        overrides: Type.Array(Type.String(), { description: "the settings the kind's own recipe (kinds.<kind>) sets; the rest are the global ones" }),
      },
      { description: "what the kind's next training run of either role learns with (step in ms; window, horizon and RUL cap in steps)" },
    ),
  ),
});
export const ChampionReply = Type.Object({ champion: Type.String() });
