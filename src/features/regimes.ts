import { kmeans } from 'ml-kmeans';
import type { Segment } from './align.js';

/**
 * Operating regimes: the clusters of a machine's condition channels (load, speed, setpoint, …; for
 * C-MAPSS the three operational settings). A sensor's level depends on the regime far more than on
 * wear (in FD002 the six regimes explain ≥ 88 % of every sensor's variance), so sensors are
 * normalised per regime and the regime itself becomes an input. Found on the training split only and
 * saved with the model; scoring assigns the nearest centroid through the same code.
 */
export interface RegimeModel {
  /** Condition channels clustered on, in order (channels constant in training are left out). */
  conditions: string[];
  /** Standardisation of the conditions before clustering: a throttle in % must not outweigh a Mach number. */
  centre: number[];
  scale: number[];
  /** k × conditions, in standardised units. */
  centroids: number[][];
  /** How k was set: given in the configuration, or by the rule in `fitRegimes`. */
  chosenBy: 'given' | 'rule';
  /** Share of the conditions' variance the clusters explain (1 − within / total sum of squares). */
  explained: number;
  /** Share of training steps in each regime. */
  trainShare: number[];
}

export interface RegimeOptions {
  /** A fixed number of regimes; otherwise the rule picks it. */
  k?: number;
  maxK: number;
  seed: number;
  /**
   * The rule: the smallest k whose clusters explain at least this share of the conditions' variance
   * and where one more cluster would not halve the rest. Distinct operating points (FD002's six)
   * explain > 99.9 % at their true k and the next split only cuts noise; conditions that only wander
   * continuously (FD001's settings are noise) never reach the share, and stay one regime.
   */
  minExplained: number;
  /** Steps sampled for clustering (evenly spread; clustering every step of a long history adds nothing). */
  maxPoints?: number;
}

/** Standardised condition vectors of every step with all conditions present. */
function conditionPoints(segments: readonly Segment[], conditions: readonly string[], every = 1): number[][] {
  const out: number[][] = [];
  let seen = 0;
  for (const seg of segments) {
    const cols = conditions.map((c) => seg.sensors.indexOf(c));
    const F = seg.sensors.length;
    for (let k = 0; k < seg.steps; k++) {
      if (seen++ % every !== 0) continue;
      const p = cols.map((c) => (c < 0 ? NaN : seg.data[k * F + c]!));
      if (p.every(Number.isFinite)) out.push(p);
    }
  }
  return out;
}

function sumOfSquares(points: readonly number[][], centroids: readonly number[][]): number {
  let s = 0;
  for (const p of points) s += nearest(centroids, p).d2;
  return s;
}

function nearest(centroids: readonly number[][], p: readonly number[]): { index: number; d2: number } {
  let index = 0;
  let d2 = Infinity;
  centroids.forEach((c, i) => {
    let d = 0;
    for (let j = 0; j < c.length; j++) d += (p[j]! - c[j]!) ** 2;
    if (d < d2) {
      d2 = d;
      index = i;
    }
  });
  return { index, d2 };
}

/** Fits regimes on the training segments; returns null when the conditions are absent or constant. */
export function fitRegimes(segments: readonly Segment[], conditions: readonly string[], o: RegimeOptions): RegimeModel | null {
  const steps = segments.reduce((n, s) => n + s.steps, 0);
  const every = Math.max(1, Math.floor(steps / (o.maxPoints ?? 20_000)));
  const raw = conditionPoints(segments, conditions, every);
  if (raw.length < 2) return null;
  const C = conditions.length;
  const centre: number[] = [];
  const scale: number[] = [];
  const kept: number[] = [];
  for (let j = 0; j < C; j++) {
    const m = raw.reduce((s, p) => s + p[j]!, 0) / raw.length;
    const sd = Math.sqrt(raw.reduce((s, p) => s + (p[j]! - m) ** 2, 0) / raw.length);
    if (sd > 1e-9 * Math.max(1, Math.abs(m))) {
      kept.push(j);
      centre.push(m);
      scale.push(sd);
    }
  }
  if (kept.length === 0) return null;
  const points = raw.map((p) => kept.map((j, i) => (p[j]! - centre[i]!) / scale[i]!));
  const total = points.reduce((s, p) => s + p.reduce((t, v) => t + v * v, 0), 0);
  // Best of three k-means++ starts: one start can merge two operating points and split another.
  const cluster = (k: number) => {
    let best: { centroids: number[][]; within: number } | null = null;
    for (let start = 0; start < 3; start++) {
      const c = kmeans(points, k, { seed: o.seed + 7919 * start, initialization: 'kmeans++', maxIterations: 100 }).centroids;
      const within = sumOfSquares(points, c);
      if (!best || within < best.within) best = { centroids: c, within };
    }
    return best!;
  };
  let centroids: number[][] = [new Array<number>(kept.length).fill(0)];
  let chosenBy: RegimeModel['chosenBy'] = 'given';
  if (o.k !== undefined) {
    if (o.k > 1) centroids = cluster(Math.min(o.k, points.length)).centroids;
  } else {
    chosenBy = 'rule';
    const kMax = Math.min(o.maxK, points.length - 1);
    let current = cluster(2);
    for (let k = 2; k <= kMax; k++) {
      const next = k < kMax ? cluster(k + 1) : null;
      // Enough explained, and one more cluster would not halve what is left: splitting noise, not an operating point.
      if (1 - current.within / total >= o.minExplained && (!next || next.within >= 0.5 * current.within)) {
        centroids = current.centroids;
        break;
      }
      if (!next) break;
      current = next;
    }
  }
  // Regimes in a stable order (by their first coordinate, then the next), so "regime 1" means the same
  // thing from one retraining to the next whenever the operating points are the same.
  centroids = [...centroids].sort((a, b) => {
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return a[j]! - b[j]!;
    return 0;
  });
  const share = new Array<number>(centroids.length).fill(0);
  for (const p of points) share[nearest(centroids, p).index]!++;
  return {
    conditions: kept.map((j) => conditions[j]!),
    centre,
    scale,
    centroids,
    chosenBy,
    explained: total > 0 ? 1 - sumOfSquares(points, centroids) / total : 1,
    trainShare: share.map((n) => n / points.length),
  };
}

/** Regime of one step's condition values (column indices into `row`), or −1 when a condition is missing. */
export function regimeOf(model: RegimeModel, row: ArrayLike<number>, cols: readonly number[]): number {
  const p: number[] = [];
  for (let j = 0; j < cols.length; j++) {
    const c = cols[j]!;
    const v = c < 0 ? NaN : row[c]!;
    if (!Number.isFinite(v)) return -1;
    p.push((v - model.centre[j]!) / model.scale[j]!);
  }
  return nearest(model.centroids, p).index;
}

/** Regime of every step of a segment (−1 where a condition is missing). */
export function segmentRegimes(model: RegimeModel, seg: Segment): Int16Array {
  const cols = model.conditions.map((c) => seg.sensors.indexOf(c));
  const F = seg.sensors.length;
  const out = new Int16Array(seg.steps);
  for (let k = 0; k < seg.steps; k++) out[k] = regimeOf(model, seg.data.subarray(k * F, (k + 1) * F), cols);
  return out;
}

/** Regime of a sample's values (as stored), or −1. */
export function regimeOfValues(model: RegimeModel, values: Readonly<Record<string, number>>): number {
  const row = model.conditions.map((c) => values[c] ?? NaN);
  return regimeOf(
    model,
    row,
    row.map((_, i) => i),
  );
}
