import type { Normalisation, LabelledSegment, Split } from '../features/index.js';
import type { MetricIntervals } from '../model/index.js';
import type { BiasReport } from '../registry/index.js';

/** Failures (distinct labelled failure times) per machine in a list of labelled segments. */
function failuresPerMachine(items: readonly LabelledSegment[]): Array<{ machine: string; failures: number }> {
  const seen = new Map<string, Set<number>>();
  for (const { seg, labels } of items) {
    for (const ts of labels.failureTs) {
      if (!Number.isFinite(ts)) continue;
      let set = seen.get(seg.machine);
      if (!set) seen.set(seg.machine, (set = new Set()));
      set.add(ts);
    }
  }
  return [...seen]
    .map(([machine, s]) => ({ machine, failures: s.size }))
    .sort((a, b) => b.failures - a.failures || (a.machine < b.machine ? -1 : 1));
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`;

/** The report of one run, from its split, statistics and validation. */
export function biasReport(i: {
  split: Split;
  norm: Normalisation;
  positives: { train: number; trainWindows: number; validation: number; validationWindows: number };
  quality: { missingRatio: Record<string, number>; flatlineRatio: Record<string, number> };
  span: { from: number; to: number };
  intervals: MetricIntervals | null | undefined;
}): BiasReport {
  const train = failuresPerMachine(i.split.train);
  const validation = failuresPerMachine(i.split.validation);
  const trainMachines = new Set(i.split.train.map((x) => x.seg.machine)).size;
  const validationMachines = new Set(i.split.validation.map((x) => x.seg.machine)).size;
  const missing = Object.entries(i.quality.missingRatio)
    .filter(([, r]) => r > 0.5)
    .map(([sensor, share]) => ({ sensor, share }));
  const flatlined = Object.entries(i.quality.flatlineRatio)
    .filter(([, r]) => r > 0.9)
    .map(([sensor, share]) => ({ sensor, share }));
  const regimes = i.norm.regimes ? { conditions: i.norm.regimes.model.conditions, trainShare: i.norm.regimes.model.trainShare } : null;

  const warnings: string[] = [];
  const trainFailures = train.reduce((n, m) => n + m.failures, 0);
  const validationFailures = validation.reduce((n, m) => n + m.failures, 0);
  if (trainMachines >= 4 && train.length > 0 && train.length <= Math.ceil(trainMachines / 4))
    warnings.push(
      `${train.length} of ${trainMachines} machines contribute all ${trainFailures} training failures: the model knows how they fail, perhaps not the others`,
    );
  if (validationFailures < 5)
    warnings.push(
      `validation holds only ${validationFailures} failure${validationFailures === 1 ? '' : 's'}: metrics are uncertain${i.intervals ? ' (see the intervals)' : ''}`,
    );
  const trainShare = i.positives.trainWindows > 0 ? i.positives.train / i.positives.trainWindows : 0;
  if (trainShare < 0.02)
    warnings.push(`only ${pct(trainShare)} of the training windows precede a failure: the failure head has little to learn from`);
  for (const m of missing) warnings.push(`${m.sensor} had no reading ${pct(m.share)} of the time: its input is mostly its training mean`);
  for (const f of flatlined) warnings.push(`${f.sensor} repeated its last value ${pct(f.share)} of the time: a stuck sensor?`);
  regimes?.trainShare.forEach((s, r) => {
    if (s < 0.02) warnings.push(`regime ${r + 1} is ${pct(s)} of the training data: the model has seen little of it`);
  });
  return {
    failures: { train, validation, trainMachines, validationMachines },
    positiveShare: {
      train: trainShare,
      validation: i.positives.validationWindows > 0 ? i.positives.validation / i.positives.validationWindows : 0,
    },
    regimes,
    sensors: { missing, flatlined, dropped: i.norm.dropped },
    span: i.span,
    heldOut: i.split.validationMachines,
    intervals: i.intervals ?? null,
    warnings,
  };
}

/**
 * Warnings only live data can give: a regime the model barely saw in training that the plant now
 * runs in. `liveShare` is the share of recent readings per regime.
 */
export function liveRegimeWarnings(trainShare: readonly number[], liveShare: readonly number[]): string[] {
  const out: string[] = [];
  liveShare.forEach((live, r) => {
    const seen = trainShare[r] ?? 0;
    if (live >= 0.1 && seen < 0.01)
      out.push(`regime ${r + 1} was ${seen === 0 ? 'never seen' : `only ${pct(seen)}`} in training, now ${pct(live)} of live data`);
  });
  return out;
}
