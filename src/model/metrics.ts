/** Classification and RUL metrics for a failure predictor. */

export interface ClassificationMetrics {
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  prAuc: number;
  rocAuc: number;
  confusion: { tp: number; fp: number; tn: number; fn: number };
  positives: number;
  n: number;
}

export interface RulMetrics {
  rmse: number;
  mae: number;
  /** Saxena et al. (2008): late predictions cost more than early ones. */
  score: number;
  n: number;
}

export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number) {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]! >= threshold;
    const y = labels[i] === 1;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

export function classification(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ClassificationMetrics {
  const c = confusionAt(scores, labels, threshold);
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  return {
    threshold,
    accuracy: (c.tp + c.tn) / Math.max(1, scores.length),
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    prAuc: averagePrecision(scores, labels),
    rocAuc: rocAuc(scores, labels),
    confusion: c,
    positives: c.tp + c.fn,
    n: scores.length,
  };
}

/** Area under the precision–recall curve as average precision (step-wise, no interpolation). */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const positives = idx.reduce((n, i) => n + (labels[i] === 1 ? 1 : 0), 0);
  if (positives === 0) return 0;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < idx.length; k++) {
    if (labels[idx[k]!] === 1) tp++;
    else fp++;
    // Evaluate only at the end of a run of tied scores.
    if (k + 1 < idx.length && scores[idx[k + 1]!] === scores[idx[k]!]) continue;
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/** ROC AUC as the Mann–Whitney statistic, ties counted half. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let pos = 0;
  for (let k = 0; k < idx.length;) {
    let j = k;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[k]!]) j++;
    const avgRank = (k + j) / 2 + 1;
    for (let t = k; t <= j; t++)
      if (labels[idx[t]!] === 1) {
        rankSumPos += avgRank;
        pos++;
      }
    k = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return 0.5;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** The threshold with the best F1 on the given (validation) data. */
export function bestF1Threshold(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const candidates = [...new Set(Array.from(scores))].sort((a, b) => a - b);
  let best = 0.5;
  let bestF1 = -1;
  for (const t of candidates) {
    const m = confusionAt(scores, labels, t);
    const f1 = (2 * m.tp) / Math.max(1, 2 * m.tp + m.fp + m.fn);
    if (f1 > bestF1) {
      bestF1 = f1;
      best = t;
    }
  }
  return best;
}

/**
 * The threshold at which `scores` flag `share` of their windows (0–1): a threshold carried from one
 * set of scores to another as the alarm rate it gives rather than as a value.
 */
export function thresholdForShare(scores: ArrayLike<number>, share: number): number {
  const sorted = Float64Array.from(scores).sort().reverse();
  const n = sorted.length;
  if (n === 0) return 0.5;
  const flagged = Math.round(Math.min(1, Math.max(0, share)) * n);
  if (flagged === 0) return Math.min(1, sorted[0]! + 1e-6);
  if (flagged === n) return sorted[n - 1]!;
  const last = sorted[flagged - 1]!;
  const next = sorted[flagged]!;
  // Halfway between the last window flagged and the first not; windows tied with the last flag together.
  return last === next ? last : (last + next) / 2;
}

export function rulMetrics(predicted: ArrayLike<number>, actual: ArrayLike<number>): RulMetrics {
  let se = 0;
  let ae = 0;
  let score = 0;
  for (let i = 0; i < predicted.length; i++) {
    const d = predicted[i]! - actual[i]!;
    se += d * d;
    ae += Math.abs(d);
    score += d < 0 ? Math.exp(-d / 13) - 1 : Math.exp(d / 10) - 1;
  }
  const n = Math.max(1, predicted.length);
  return { rmse: Math.sqrt(se / n), mae: ae / n, score, n: predicted.length };
}

export interface RulBand {
  /** True RUL in [from, to) steps; `to` null for the capped band (RUL at the cap: far from failure). */
  from: number;
  to: number | null;
  n: number;
  /** Mean predicted − true: positive means RUL said too long (late, the costly side). */
  bias: number;
  rmse: number;
}

/**
 * RUL error by true-RUL band, edges at half the horizon, the horizon, twice it and the cap: a model
 * can have a good RMSE overall and still say "RUL about 15 steps" at the moment of failure, which is
 * the error an alert's reader pays for.
 */
export function rulByBand(predicted: ArrayLike<number>, actual: ArrayLike<number>, horizon: number, rulCap: number): RulBand[] {
  const edges = [...new Set([0, Math.round(horizon / 2), horizon, 2 * horizon].filter((e) => e < rulCap))].sort((a, b) => a - b);
  const bands: RulBand[] = edges.map((from, i) => ({ from, to: edges[i + 1] ?? rulCap, n: 0, bias: 0, rmse: 0 }));
  bands.push({ from: rulCap, to: null, n: 0, bias: 0, rmse: 0 });
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const band = a >= rulCap ? bands[bands.length - 1]! : bands.find((b) => a >= b.from && a < b.to!)!;
    const d = predicted[i]! - a;
    band.n++;
    band.bias += d;
    band.rmse += d * d;
  }
  for (const b of bands) {
    b.bias = b.n > 0 ? b.bias / b.n : 0;
    b.rmse = b.n > 0 ? Math.sqrt(b.rmse / b.n) : 0;
  }
  return bands;
}

/**
 * Lead time per failure: for each failure that windows within the horizon lead up to, the start of
 * the final run of alarms before it (a failure whose last window is below the threshold is missed).
 * Windows are grouped by the time of the failure they precede, as labelled (uncapped), never
 * rebuilt from the RUL target: that is capped, and below the horizon it would make every window a
 * failure of its own.
 */
export function leadTimes(
  windows: ReadonlyArray<{ machine: string; endTs: number; failureTs: number; score: number }>,
  threshold: number,
  horizonMs: number,
): { detected: number; missed: number; meanLeadMs: number | null } {
  const runs = new Map<string, Array<{ endTs: number; score: number }>>();
  for (const w of windows) {
    if (!Number.isFinite(w.failureTs) || w.failureTs - w.endTs > horizonMs) continue;
    const key = `${w.machine}@${w.failureTs}`;
    let run = runs.get(key);
    if (!run) {
      run = [];
      runs.set(key, run);
    }
    run.push(w);
  }
  let detected = 0;
  let missed = 0;
  let total = 0;
  for (const [key, ws] of runs) {
    ws.sort((a, b) => a.endTs - b.endTs);
    if (ws[ws.length - 1]!.score < threshold) {
      missed++;
      continue;
    }
    let k = ws.length - 1;
    while (k > 0 && ws[k - 1]!.score >= threshold) k--;
    detected++;
    total += Number(key.slice(key.lastIndexOf('@') + 1)) - ws[k]!.endTs;
  }
  return { detected, missed, meanLeadMs: detected > 0 ? total / detected : null };
}

export interface MetricIntervals {
  /** Central interval of the bootstrap distribution, e.g. 0.9. */
  level: number;
  samples: number;
  f1: [number, number];
  prAuc: [number, number];
  rmse: [number, number];
}

/**
 * Bootstrap over machines: the validation machines drawn with replacement, every window of a drawn
 * machine kept together (windows of one machine are not independent). With a handful of held-out
 * failures the interval, not the point, is what the figure is worth.
 */
export function bootstrapOverMachines(
  w: {
    machine: readonly string[];
    p: ArrayLike<number>;
    failure: ArrayLike<number>;
    predRul: ArrayLike<number>;
    actualRul: ArrayLike<number>;
  },
  threshold: number,
  o: { samples: number; level: number; random: () => number },
): MetricIntervals | null {
  const byMachine = new Map<string, number[]>();
  w.machine.forEach((m, i) => {
    const list = byMachine.get(m);
    if (list) list.push(i);
    else byMachine.set(m, [i]);
  });
  const groups = [...byMachine.values()];
  if (groups.length < 2) return null;
  const f1: number[] = [];
  const prAuc: number[] = [];
  const rmse: number[] = [];
  for (let b = 0; b < o.samples; b++) {
    const idx: number[] = [];
    for (let g = 0; g < groups.length; g++) idx.push(...groups[Math.floor(o.random() * groups.length)]!);
    const p = idx.map((i) => w.p[i]!);
    const y = idx.map((i) => w.failure[i]!);
    if (!y.includes(1)) continue; // no failure drawn: F1 and PR-AUC undefined for this sample
    const c = classification(p, y, threshold);
    f1.push(c.f1);
    prAuc.push(c.prAuc);
    rmse.push(
      rulMetrics(
        idx.map((i) => w.predRul[i]!),
        idx.map((i) => w.actualRul[i]!),
      ).rmse,
    );
  }
  if (f1.length < o.samples / 2) return null;
  const q = (xs: number[]): [number, number] => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (t: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(t * (s.length - 1))))]!;
    return [at((1 - o.level) / 2), at(1 - (1 - o.level) / 2)];
  };
  return { level: o.level, samples: f1.length, f1: q(f1), prAuc: q(prAuc), rmse: q(rmse) };
}
