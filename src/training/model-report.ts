/** What a model's meta.json says of its validation and its data, and its champion measured on the same. */
import { applyNormalisation, type LabelledSegment, buildWindows } from '../features/index.js';
import type { TF } from '../model/index.js';
import type { ModelMeta, ModelRegistry } from '../registry/index.js';
import { biasReport } from './bias-report.js';
import type { Dataset } from './dataset.js';
import { validate, type PreparedData, type Validation } from './pipeline.js';

export function stripConfusion<T extends { confusion?: unknown }>(c: T): Omit<T, 'confusion'> {
  const { confusion: _c, ...rest } = c;
  return rest;
}

/** The metrics a model's meta.json records: its validation, and the champion's on the same data. */
export function validationMetrics(v: Validation, championOnSame: (Validation & { version: string }) | null): ModelMeta['metrics'] {
  return {
    validation: { classification: stripConfusion(v.classification), rul: v.rul },
    leadTime: v.lead,
    rulBands: v.rulBands,
    championOnSameData: championOnSame
      ? { version: championOnSame.version, classification: stripConfusion(championOnSame.classification), rul: championOnSame.rul }
      : null,
  };
}

/** What a model was trained and validated on, and what its validation can and cannot prove. */
export function dataReport(
  prepared: PreparedData,
  dataset: Dataset,
  v: Validation,
): { data: ModelMeta['data']; report: ModelMeta['report'] } {
  return {
    data: { ...prepared.report, failures: dataset.failures, quality: dataset.quality, confusion: v.classification.confusion },
    report: biasReport({
      split: prepared.split,
      norm: prepared.norm,
      positives: {
        train: prepared.report.trainPositives,
        trainWindows: prepared.report.trainWindows,
        validation: prepared.report.validationPositives,
        validationWindows: prepared.report.validationWindows,
      },
      quality: dataset.quality,
      span: { from: dataset.from, to: dataset.to },
      intervals: v.intervals,
    }),
  };
}

/** A registered model (the champion, or a transfer's source) scored on the challenger's held-out machines. */
export async function championOnSame(
  tf: TF,
  registry: ModelRegistry,
  baseline: ModelMeta,
  heldOut: readonly LabelledSegment[],
  stride: number,
): Promise<(Validation & { version: string }) | null> {
  const model = await registry.load(tf, baseline.version);
  try {
    const held = heldOut.map((i) => ({ seg: applyNormalisation(i.seg, baseline.normalisation), labels: i.labels }));
    const ws = buildWindows(held, baseline.window, stride);
    if (ws.n === 0) return null;
    const v = validate(tf, model, ws, {
      rulCap: baseline.rulCap,
      horizon: baseline.horizon,
      stepMs: baseline.stepMs,
      threshold: baseline.threshold,
    });
    return { ...v, version: baseline.version };
  } finally {
    model.dispose();
  }
}
