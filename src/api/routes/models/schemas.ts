import { Type } from '@sinclair/typebox';
import { Nullable } from '../../schemas.js';

/** The models resource's wire form: summaries, kinds, bodies and query strings, as JSON schemas the OpenAPI document shows. */
export const VersionParams = Type.Object({ version: Type.String({ pattern: '^v\\d{4,}$' }) }, { additionalProperties: false });
export const Summary = Type.Object({
  version: Type.String(),
  kind: Type.String({ description: "the machine kind it serves ('*': from before kinds, serving kinds without their own)" }),
  champion: Type.Boolean({ description: 'the champion of its kind' }),
  transferredFrom: Nullable(Type.Object({ version: Type.String(), kind: Type.String() })),
  createdAt: Type.String(),
  parent: Nullable(Type.String()),
  decision: Type.Object({ promoted: Type.Boolean(), reason: Type.String() }),
  prAuc: Type.Number(),
  f1: Type.Number(),
  rulRmse: Type.Number(),
  backend: Type.String(),
});
export const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
export const RollbackBody = Type.Object(
  {
    version: Type.Optional(Type.String({ pattern: '^v\\d{4,}$' })),
    kind: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'whose champion to roll back; needed with several kinds' }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export const ListQuery = Type.Object(
  { kind: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'only versions of this machine kind' })) },
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
});
export const ChampionReply = Type.Object({ champion: Type.String() });
