import { Type } from '@sinclair/typebox';
import { errorMessage } from '../core/errors.js';
import { stageReport, type StageReport } from '../core/stage-report.js';
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
    error: null,
  };
  return stageReport({
    section: 'model',
    fields: modelFields,
    read: () => {
      try {
        const version = registry.championVersion();
        const all = registry.versions();
        const versions = all.length;
        if (!version) {
          const last = all.at(-1);
          const whyNone = last ? `${last} was not promoted: ${registry.meta(last).decision.reason}` : 'no model trained yet';
          return { ...none, versions, whyNone };
        }
        const m = registry.meta(version);
        return {
          champion: version,
          createdAt: m.createdAt,
          prAuc: m.metrics.validation.classification.prAuc,
          f1: m.metrics.validation.classification.f1,
          rulRmse: m.metrics.validation.rul.rmse,
          trainedOn: m.training.backend,
          versions,
          whyNone: null,
          warnings: m.report?.warnings ?? [],
          error: null,
        };
      } catch (err) {
        return { ...none, error: errorMessage(err) };
      }
    },
  });
}
