import type { Segment } from './align.js';
import type { StepLabels } from './labels.js';

/** Windows ready for the model: x is [n, windowSteps, features] row-major. */
export interface WindowSet {
  n: number;
  windowSteps: number;
  features: number;
  x: Float32Array;
  failure: Float32Array;
  rul: Float32Array;
  machine: string[];
  /** End time of each window (end of its last step). */
  endTs: Float64Array;
  /** Time of the failure ahead of each window, NaN when none is in sight (labels.ts). */
  failureTs: Float64Array;
}

/**
 * Slides windows of `windowSteps` with `stride` over each segment, keeping those whose labels are
 * usable. With `minHistory` below `windowSteps`, windows also end where fewer steps have been seen,
 * front-padded with the first row as `lastWindow` pads a short segment when scoring.
 */
export function buildWindows(
  items: ReadonlyArray<{ seg: Segment; labels: StepLabels }>,
  windowSteps: number,
  stride: number,
  minHistory = windowSteps,
): WindowSet {
  const F = items[0]?.seg.sensors.length ?? 0;
  const first = Math.max(1, Math.min(minHistory, windowSteps)) - 1;
  const picks: Array<[number, number]> = [];
  items.forEach(({ seg, labels }, i) => {
    // Anchor on the newest step so the latest window is always included whatever the stride.
    for (let k = seg.steps - 1; k >= first; k -= stride) if (labels.usable[k]) picks.push([i, k]);
  });
  picks.reverse();
  const n = picks.length;
  const out: WindowSet = {
    n,
    windowSteps,
    features: F,
    x: new Float32Array(n * windowSteps * F),
    failure: new Float32Array(n),
    rul: new Float32Array(n),
    machine: new Array<string>(n),
    endTs: new Float64Array(n),
    failureTs: new Float64Array(n),
  };
  picks.forEach(([i, k], w) => {
    const { seg, labels } = items[i]!;
    const at = w * windowSteps * F;
    const pad = Math.max(0, windowSteps - 1 - k);
    for (let r = 0; r < pad; r++) out.x.set(seg.data.subarray(0, F), at + r * F);
    out.x.set(seg.data.subarray((k + 1 + pad - windowSteps) * F, (k + 1) * F), at + pad * F);
    out.failure[w] = labels.failure[k]!;
    out.rul[w] = labels.rul[k]!;
    out.machine[w] = seg.machine;
    out.endTs[w] = seg.startTs + (k + 1) * seg.stepMs;
    out.failureTs[w] = labels.failureTs[k]!;
  });
  return out;
}

/** The latest window of a segment, front-padded with its first row when the segment is shorter. */
export function lastWindow(seg: Segment, windowSteps: number): Float32Array {
  const F = seg.sensors.length;
  const out = new Float32Array(windowSteps * F);
  const have = Math.min(seg.steps, windowSteps);
  const pad = windowSteps - have;
  for (let k = 0; k < pad; k++) out.set(seg.data.subarray(0, F), k * F);
  out.set(seg.data.subarray((seg.steps - have) * F, seg.steps * F), pad * F);
  return out;
}

/** Positive windows repeated until they are about `targetShare` of the set: rare failures still teach. */
export function oversamplePositives(ws: WindowSet, targetShare: number, rng: () => number): WindowSet {
  const pos: number[] = [];
  for (let i = 0; i < ws.n; i++) if (ws.failure[i] === 1) pos.push(i);
  const share = pos.length / Math.max(1, ws.n);
  if (pos.length === 0 || share >= targetShare) return ws;
  const extra = Math.round((targetShare * ws.n - pos.length) / (1 - targetShare));
  const idx = Array.from({ length: ws.n }, (_, i) => i);
  for (let e = 0; e < extra; e++) idx.push(pos[Math.floor(rng() * pos.length)]!);
  return selectWindows(ws, idx);
}

/** Both sets' windows in one, `a`'s first. */
export function concatWindows(a: WindowSet, b: WindowSet): WindowSet {
  if (a.windowSteps !== b.windowSteps || a.features !== b.features)
    throw new Error(`windows of ${a.windowSteps}×${a.features} and ${b.windowSteps}×${b.features} cannot be joined`);
  const join = <T extends Float32Array | Float64Array>(x: T, y: T, make: (n: number) => T): T => {
    const out = make(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    n: a.n + b.n,
    windowSteps: a.windowSteps,
    features: a.features,
    x: join(a.x, b.x, (n) => new Float32Array(n)),
    failure: join(a.failure, b.failure, (n) => new Float32Array(n)),
    rul: join(a.rul, b.rul, (n) => new Float32Array(n)),
    machine: [...a.machine, ...b.machine],
    endTs: join(a.endTs, b.endTs, (n) => new Float64Array(n)),
    failureTs: join(a.failureTs, b.failureTs, (n) => new Float64Array(n)),
  };
}

export function selectWindows(ws: WindowSet, idx: readonly number[]): WindowSet {
  const size = ws.windowSteps * ws.features;
  const out: WindowSet = {
    n: idx.length,
    windowSteps: ws.windowSteps,
    features: ws.features,
    x: new Float32Array(idx.length * size),
    failure: new Float32Array(idx.length),
    rul: new Float32Array(idx.length),
    machine: new Array<string>(idx.length),
    endTs: new Float64Array(idx.length),
    failureTs: new Float64Array(idx.length),
  };
  idx.forEach((i, j) => {
    out.x.set(ws.x.subarray(i * size, (i + 1) * size), j * size);
    out.failure[j] = ws.failure[i]!;
    out.rul[j] = ws.rul[i]!;
    out.machine[j] = ws.machine[i]!;
    out.endTs[j] = ws.endTs[i]!;
    out.failureTs[j] = ws.failureTs[i]!;
  });
  return out;
}
