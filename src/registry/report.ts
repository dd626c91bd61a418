import { Type } from '@sinclair/typebox';
import { errorMessage } from '../core/errors.js';
import { stageReport, type StageReport } from '../core/stage-report.js';
import { recipeText } from './recipe.js';
import type { ModelRegistry } from './registry.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const modelFields = {
  champion: NullableString,
  createdAt: NullableString,
  prAuc: NullableNumber,
  f1: NullableNumber,
  rulRmse: NullableNumber,
  trainedOn: NullableString,
  versions: Type.Integer(),
  /** Without a champion: why (no run yet, or why the newest version was not promoted). */
  whyNone: NullableString,
  /** The champion's bias-report warnings. */
  warnings: Type.Array(Type.String()),
  /** The champion of each machine kind (one model per kind), with its figures and warnings. */
  kinds: Type.Array(
    Type.Object({
      kind: Type.String(),
      champion: Type.String(),
      createdAt: Type.String(),
      prAuc: Type.Number(),
      f1: Type.Number(),
      rulRmse: Type.Number(),
      transferredFrom: NullableString,
      recipe: Type.String({ description: "the grid, labels and size it was trained with, and which of them its kind's own recipe set" }),
      warnings: Type.Array(Type.String()),
    }),
  ),
  /** The health champion of each machine kind (learned from readings alone). */
  health: Type.Array(
    Type.Object({
      kind: Type.String(),
      champion: Type.String(),
      createdAt: Type.String(),
      threshold: Type.Number({ description: 'health index below which anomaly alerts open' }),
      falseAlarmsPerMachineMonth: Type.Number({ description: 'expected at that threshold, on held-out normal data' }),
      recipe: Type.String({ description: "the grid and size it was trained with, and which of them its kind's own recipe set" }),
    }),
  ),
  error: NullableString,
};

/** The champion and its validation figures; a registry that cannot be read says why instead of failing the status. */
export function modelReport(registry: ModelRegistry): StageReport<typeof modelFields> {
  const none = {
    champion: null,
    createdAt: null,
    prAuc: null,
    f1: null,
    rulRmse: null,
    trainedOn: null,
    versions: 0,
    whyNone: null,
    warnings: [],
    kinds: [],
    health: [],
    error: null,
  };
  return stageReport({
    section: 'model',
    fields: modelFields,
    read: () => {
      try {
        const all = registry.versions();
        const versions = all.length;
        const health = Object.entries(registry.champions('health'))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([kind, version]) => {
            const m = registry.healthMeta(version);
            return {
              kind,
              champion: version,
              createdAt: m.createdAt,
              threshold: m.calibration.threshold,
              falseAlarmsPerMachineMonth: m.calibration.estimate.falseAlarmsPerMachineMonth,
              recipe: recipeText(m),
            };
          });
        const champions = Object.entries(registry.champions()).sort(([a], [b]) => (a < b ? -1 : 1));
        if (champions.length === 0) {
          const last = [...all].reverse().find((v) => registry.meta(v).role !== 'health');
          const whyNone = last ? `${last} was not promoted: ${registry.meta(last).decision.reason}` : 'no failure model trained yet';
          return { ...none, versions, whyNone, health };
        }
        const kinds = champions.map(([kind, version]) => {
          const m = registry.failureMeta(version);
          return {
            kind,
            champion: version,
            createdAt: m.createdAt,
            prAuc: m.metrics.validation.classification.prAuc,
            f1: m.metrics.validation.classification.f1,
            rulRmse: m.metrics.validation.rul.rmse,
            transferredFrom: m.transferredFrom?.version ?? null,
            recipe: recipeText(m),
            warnings: m.report?.warnings ?? [],
          };
        });
        // One champion: its figures at the top, as before kinds; several: each kind's in `kinds`.
        const only = kinds.length === 1 ? kinds[0]! : null;
        const m = only ? registry.failureMeta(only.champion) : null;
        return {
          champion: only ? only.champion : kinds.map((k) => `${k.champion} (${k.kind})`).join(', '),
          createdAt: only?.createdAt ?? null,
          prAuc: only?.prAuc ?? null,
          f1: only?.f1 ?? null,
          rulRmse: only?.rulRmse ?? null,
          trainedOn: m?.training.backend ?? null,
          versions,
          whyNone: null,
          warnings: only?.warnings ?? [],
          kinds,
          health,
          error: null,
        };
      } catch (err) {
        return { ...none, error: errorMessage(err) };
      }
    },
  });
}
