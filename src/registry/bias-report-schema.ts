import { Type, type Static } from '@sinclair/typebox';

/**
 * What a model learned from, and what it did not see: written with every training run (meta.json
 * `report`), shown by `vigil models show`, the API and the page. The warnings are for a technician:
 * each names what is thin and what it means.
 */
export const BiasReportSchema = Type.Object({
  failures: Type.Object({
    /** Failures each machine contributed to training (machines with none are left out). */
    train: Type.Array(Type.Object({ machine: Type.String(), failures: Type.Integer() })),
    validation: Type.Array(Type.Object({ machine: Type.String(), failures: Type.Integer() })),
    trainMachines: Type.Integer(),
    validationMachines: Type.Integer(),
  }),
  positiveShare: Type.Object({ train: Type.Number(), validation: Type.Number() }),
  /** Share of training steps per regime (regime k at index k − 1); null without regimes. */
  regimes: Type.Union([Type.Object({ conditions: Type.Array(Type.String()), trainShare: Type.Array(Type.Number()) }), Type.Null()]),
  sensors: Type.Object({
    /** Sensors with no reading for more than half of the steps, and the share. */
    missing: Type.Array(Type.Object({ sensor: Type.String(), share: Type.Number() })),
    /** Sensors repeating their previous value on more than 90 % of their steps (stuck). */
    flatlined: Type.Array(Type.Object({ sensor: Type.String(), share: Type.Number() })),
    dropped: Type.Array(Type.String()),
  }),
  span: Type.Object({ from: Type.Number(), to: Type.Number() }),
  heldOut: Type.Array(Type.String()),
  intervals: Type.Union([
    Type.Object({
      level: Type.Number(),
      samples: Type.Integer(),
      f1: Type.Tuple([Type.Number(), Type.Number()]),
      prAuc: Type.Tuple([Type.Number(), Type.Number()]),
      rmse: Type.Tuple([Type.Number(), Type.Number()]),
    }),
    Type.Null(),
  ]),
  warnings: Type.Array(Type.String()),
});
export type BiasReport = Static<typeof BiasReportSchema>;
