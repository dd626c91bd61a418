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
