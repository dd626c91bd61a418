import type { MachineEvent } from '../core/types.js';
import type { Segment } from './align.js';

export interface LabelOptions {
  /** Positive when a failure falls within this many steps after the window's end. */
  horizonSteps: number;
  /** RUL target cap, in steps. */
  rulCapSteps: number;
  /** Last time the machine's data could have shown a failure (end of the queried range). */
  observedUntil: number;
}

/** Per grid step k: the targets of a window ending with step k, or not usable. */
export interface StepLabels {
  /** 1 = failure within the horizon, 0 = none; meaningful where usable. */
  failure: Uint8Array;
  /** Remaining steps to the next failure, capped. */
  rul: Float32Array;
  /** Time of that next failure, uncapped (NaN when none is in sight): what lead times are counted by. */
  failureTs: Float64Array;
  usable: Uint8Array;
}

/**
 * Labels from events. A window ending at time e (the end of its last step) is positive if the next
 * failure f ≥ e has f − e ≤ horizon; its RUL is min(cap, (f − e)/step). Windows with no failure in
 * sight are negative with RUL = cap only if the data reaches far enough past e to know that
 * (otherwise censored, not used); windows after a failure and before the next repair/maintenance,
 * and windows containing a failure, are not used.
 */
export function labelSteps(seg: Segment, windowSteps: number, events: readonly MachineEvent[], o: LabelOptions): StepLabels {
  const failures = events
    .filter((e) => e.type === 'failure')
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const restarts = events
    .filter((e) => e.type === 'repair' || e.type === 'maintenance')
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const out: StepLabels = {
    failure: new Uint8Array(seg.steps),
    rul: new Float32Array(seg.steps),
    failureTs: new Float64Array(seg.steps).fill(Number.NaN),
    usable: new Uint8Array(seg.steps),
  };
  const step = seg.stepMs;
  let fi = 0;
  for (let k = 0; k < seg.steps; k++) {
    const end = seg.startTs + (k + 1) * step;
    const begin = end - windowSteps * step;
    while (fi < failures.length && failures[fi]! < end) fi++;
    const prevFailure = fi > 0 ? failures[fi - 1]! : null;
    // Inside a window, or down between a failure and the restart after it: not a valid example.
    if (prevFailure !== null && prevFailure >= begin) continue;
    if (prevFailure !== null && !restarts.some((r) => r > prevFailure && r <= begin)) {
      // No repair logged after the last failure: only trust data once it has clearly resumed.
      const resumed = restarts.length === 0 && seg.startTs > prevFailure;
      if (!resumed) continue;
    }
    const next = fi < failures.length ? failures[fi]! : null;
    if (next !== null) {
      const rulSteps = (next - end) / step;
      out.failure[k] = rulSteps <= o.horizonSteps ? 1 : 0;
      out.rul[k] = Math.min(o.rulCapSteps, rulSteps);
      out.failureTs[k] = next;
      out.usable[k] = 1;
    } else {
      const seenAhead = (o.observedUntil - end) / step;
      if (seenAhead >= Math.max(o.horizonSteps, o.rulCapSteps)) {
        out.failure[k] = 0;
        out.rul[k] = o.rulCapSteps;
        out.usable[k] = 1;
      }
    }
  }
  return out;
}
