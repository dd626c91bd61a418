import type { Segment } from './align.js';
import type { StepLabels } from './labels.js';

export interface LabelledSegment {
  seg: Segment;
  labels: StepLabels;
}

export interface Split {
  train: LabelledSegment[];
  validation: LabelledSegment[];
  /** How the split was made, for the run report. */
  method: 'by-machine' | 'by-life' | 'by-time';
  validationMachines: string[];
}

/**
 * Validation never sees training data: with enough machines, whole machines are held out (seeded).
 * With fewer (a kind of a few machines), whole lives are held out: the latest runs that ended in a
 * failure, as many as `fraction` of them, and every later run, so validation is the most recent data
 * and training keeps failures to learn from. Without two failed runs, each segment's latest part is
 * held out, with a window-length gap so no window spans both.
 */
export function splitByMachineAndTime(items: readonly LabelledSegment[], fraction: number, windowSteps: number, rng: () => number): Split {
  const machines = [...new Set(items.map((i) => i.seg.machine))].sort();
  if (machines.length >= 5) {
    const shuffled = [...machines];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const held = new Set(shuffled.slice(0, Math.max(1, Math.round(machines.length * fraction))));
    return {
      train: items.filter((i) => !held.has(i.seg.machine)),
      validation: items.filter((i) => held.has(i.seg.machine)),
      method: 'by-machine',
      validationMachines: [...held].sort(),
    };
  }
  const byLife = splitByLife(items, fraction);
  if (byLife) return byLife;
  const train: LabelledSegment[] = [];
  const validation: LabelledSegment[] = [];
  for (const item of items) {
    const cut = Math.floor(item.seg.steps * (1 - fraction));
    const trainEnd = cut - windowSteps;
    if (trainEnd >= windowSteps) train.push(slice(item, 0, trainEnd));
    if (item.seg.steps - cut >= windowSteps) validation.push(slice(item, cut, item.seg.steps));
  }
  return { train, validation, method: 'by-time', validationMachines: machines };
}

/** Held-out runs that end in a failure: what a model's validation failures will be, known before training. */
export function heldOutFailures(split: Split): number {
  return split.validation.filter(endsInFailure).length;
}

/** Machines with a failure in sight somewhere in their labelled data. */
export function failedMachines(items: readonly LabelledSegment[]): number {
  return new Set(items.filter(endsInFailure).map((i) => i.seg.machine)).size;
}

/** Whether a usable step of the item has a failure within the horizon. */
export function endsInFailure(item: LabelledSegment): boolean {
  return item.labels.failure.some((v, i) => v === 1 && item.labels.usable[i] === 1);
}

function splitByLife(items: readonly LabelledSegment[], fraction: number): Split | null {
  const failed = items.filter(endsInFailure);
  if (failed.length < 2) return null;
  const end = (i: LabelledSegment) => i.seg.startTs + i.seg.steps * i.seg.stepMs;
  const byEnd = [...failed].sort((a, b) => end(a) - end(b));
  const hold = Math.min(failed.length - 1, Math.max(1, Math.round(failed.length * fraction)));
  const cutoff = end(byEnd[byEnd.length - hold]!);
  // Lives that ended before the cut train; the held-out failed lives and anything after them validate.
  const train = items.filter((i) => end(i) < cutoff);
  const validation = items.filter((i) => end(i) >= cutoff);
  if (!train.some(endsInFailure)) return null;
  return {
    train,
    validation,
    method: 'by-life',
    validationMachines: [...new Set(validation.map((i) => i.seg.machine))].sort(),
  };
}

function slice(item: LabelledSegment, from: number, to: number): LabelledSegment {
  const F = item.seg.sensors.length;
  const { seg, labels } = item;
  return {
    seg: { ...seg, startTs: seg.startTs + from * seg.stepMs, steps: to - from, data: seg.data.slice(from * F, to * F) },
    labels: {
      failure: labels.failure.slice(from, to),
      rul: labels.rul.slice(from, to),
      failureTs: labels.failureTs.slice(from, to),
      usable: labels.usable.slice(from, to),
    },
  };
}
