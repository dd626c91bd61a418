/**
 * Calibrating a health model on held-out normal data: the index's scale, the alert threshold a
 * false-alarm budget allows (from an exponential tail of the smoothed score, not guessed), the false
 * alarms that threshold actually raises there, and — with labelled failures or abnormal periods —
 * how early it warned of each and the threshold they support within the budget (few-shot).
 */
import { HysteresisRule } from '../core/hysteresis.js';
import { healthIndex, scoreAtIndex, smoothScore } from '../model/index.js';

/** One machine's windows in time order: the end of each and its raw anomaly score. */
export interface ScoreSeries {
  machine: string;
  endTs: Float64Array;
  score: Float32Array;
}

export interface RuleOptions {
  stepMs: number;
  /** Time constant of the smoothing, in steps. */
  smoothingSteps: number;
  openAfter: number;
  closeAfter: number;
  /** Index points above the threshold the index must climb back to before an alert closes. */
  hysteresis: number;
}

export interface SmoothedSeries extends ScoreSeries {
  smoothed: Float32Array;
}

const HOURS_PER_MONTH = 730;

/** Smooths each series in data time from `initial` (the normal median); a gap of `gapSteps` starts afresh. */
export function smoothSeries(series: readonly ScoreSeries[], o: RuleOptions, initial: number, gapSteps: number): SmoothedSeries[] {
  return series.map((s) => {
    const smoothed = new Float32Array(s.score.length);
    let prev = initial;
    let prevTs = Number.NaN;
    for (let i = 0; i < s.score.length; i++) {
      const dt = (s.endTs[i]! - prevTs) / o.stepMs;
      if (!(dt <= gapSteps)) prev = initial;
      prev = smoothScore(prev, s.score[i]!, Number.isFinite(dt) && dt <= gapSteps ? dt : 1, o.smoothingSteps);
      smoothed[i] = prev;
      prevTs = s.endTs[i]!;
    }
    return { ...s, smoothed };
  });
}

export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Machine-hours the series cover (each window stands for one step of time). */
export function machineHours(series: readonly ScoreSeries[], stepMs: number): number {
  return series.reduce((h, s) => h + (s.score.length * stepMs) / 3_600_000, 0);
}

/**
 * Alert episodes a threshold opens on each series and, per series, when each opened (data time):
 * the alert rule's own debounce and hysteresis (core/hysteresis.ts), on the index.
 */
export function alertEpisodes(
  series: readonly SmoothedSeries[],
  threshold: number,
  scale: { median: number; p99: number },
  o: RuleOptions,
): Array<{ machine: string; opened: number[]; openAt: (ts: number) => number | null }> {
  return series.map((s) => {
    // The rule sees how far the index is below 100: at or above 100 − threshold is "below threshold".
    const rule = new HysteresisRule({
      high: 100 - threshold,
      low: 100 - Math.min(100, threshold + o.hysteresis),
      openAfter: o.openAfter,
      closeAfter: o.closeAfter,
    });
    const opened: number[] = [];
    const spans: Array<[number, number]> = [];
    let openSince: number | null = null;
    for (let i = 0; i < s.smoothed.length; i++) {
      const t = rule.observe(100 - healthIndex(s.smoothed[i]!, scale));
      if (t === 'open') {
        openSince = s.endTs[i]!;
        opened.push(openSince);
      } else if (t === 'close' && openSince !== null) {
        spans.push([openSince, s.endTs[i]!]);
        openSince = null;
      }
    }
    const last = openSince;
    return {
      machine: s.machine,
      opened,
      // The opening of the episode under way at `ts`, if any.
      openAt: (ts: number) => {
        if (last !== null && ts >= last) return last;
        for (const [a, b] of spans) if (ts >= a && ts <= b) return a;
        return null;
      },
    };
  });
}

export interface BudgetThreshold {
  threshold: number;
  /** Alert episodes per machine-month the fit expects at the threshold. */
  falseAlarmsPerMachineMonth: number;
  /** ln(episodes per machine-month) = intercept + slope × smoothed score, fitted where episodes were counted. */
  intercept: number;
  slope: number;
  /** Candidate thresholds whose episodes the fit used. */
  points: number;
}

/** Smoothed-score quantiles tried as thresholds: from where alerts are common to where they are rare. */
const CANDIDATE_QUANTILES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998];

/** ln(alert episodes per machine-month) as linear in the smoothed score, from counts on normal data. */
export interface EpisodeRateFit {
  intercept: number;
  slope: number;
  /** Candidate thresholds with enough episodes to fit on. */
  points: number;
  counted: Array<{ x: number; episodes: number; rate: number }>;
}

/**
 * Alert episodes counted with the alert rule itself (debounce, hysteresis) at thresholds where they
 * are common, their rate fitted as exponential in the score: what lets a few days of normal data,
 * which hold too few alarms to count at the budget's level, say how often a threshold would alarm.
 */
export function episodeRateFit(normal: readonly SmoothedSeries[], scale: { median: number; p99: number }, o: RuleOptions): EpisodeRateFit {
  const all = Float32Array.from(normal.flatMap((s) => Array.from(s.smoothed)));
  const months = machineHours(normal, o.stepMs) / HOURS_PER_MONTH;
  const counted = [...new Set(CANDIDATE_QUANTILES.map((q) => quantile(all, q)))].filter(Number.isFinite).map((x) => {
    const episodes = alertEpisodes(normal, healthIndex(x, scale), scale, o).reduce((n, e) => n + e.opened.length, 0);
    return { x, episodes, rate: episodes / Math.max(1e-9, months) };
  });
  const fitted = counted.filter((c) => c.episodes >= 2);
  let slope = 0;
  let intercept = 0;
  if (fitted.length >= 2) {
    const mx = fitted.reduce((s, c) => s + c.x, 0) / fitted.length;
    const my = fitted.reduce((s, c) => s + Math.log(c.rate), 0) / fitted.length;
    let sxy = 0;
    let sxx = 0;
    for (const c of fitted) {
      sxy += (c.x - mx) * (Math.log(c.rate) - my);
      sxx += (c.x - mx) ** 2;
    }
    if (sxx > 0 && sxy < 0) {
      slope = sxy / sxx;
      intercept = my - slope * mx;
    }
  }
  return { intercept, slope, points: slope < 0 ? fitted.length : 0, counted };
}

/** Alert episodes per machine-month a fit expects below index `threshold`; null without a usable fit. */
export function expectedFalseAlarms(fit: EpisodeRateFit, threshold: number, scale: { median: number; p99: number }): number | null {
  if (!(fit.slope < 0)) return null;
  return Math.exp(fit.intercept + fit.slope * scoreAtIndex(threshold, scale));
}

/**
 * The highest index threshold whose false alarms stay within `budget` per machine-month on held-out
 * normal data, from the fitted episode rate; never one at which more than the budget was counted.
 */
export function budgetThreshold(
  normal: readonly SmoothedSeries[],
  scale: { median: number; p99: number },
  budget: number,
  o: RuleOptions,
): BudgetThreshold {
  const fit = episodeRateFit(normal, scale, o);
  const top = fit.counted.length ? fit.counted[fit.counted.length - 1]!.x : scale.p99;
  // No usable fit (too little data, or a rate that does not fall): the highest score seen, and then some.
  let x = fit.slope < 0 ? (Math.log(budget) - fit.intercept) / fit.slope : top + (scale.p99 - scale.median);
  for (const c of fit.counted) if (c.rate > budget && c.episodes >= 1) x = Math.max(x, c.x);
  const threshold = clampThreshold(healthIndex(x, scale));
  return {
    threshold,
    falseAlarmsPerMachineMonth: expectedFalseAlarms(fit, threshold, scale) ?? 0,
    intercept: fit.intercept,
    slope: fit.slope,
    points: fit.points,
  };
}

const clampThreshold = (t: number) => Math.min(99, Math.max(1, Math.floor(t * 2) / 2));

/** A labelled failure, or the end of an abnormal period, with the machine's smoothed scores up to it. */
export interface Positive {
  machine: string;
  kind: 'failure' | 'abnormal';
  ts: number;
  series: SmoothedSeries;
}

export interface Announcement {
  machine: string;
  kind: 'failure' | 'abnormal';
  ts: number;
  warned: boolean;
  leadMs: number | null;
}

/** Whether an alert was open at each positive's time, and since when. */
export function announcements(
  positives: readonly Positive[],
  threshold: number,
  scale: { median: number; p99: number },
  o: RuleOptions,
): Announcement[] {
  return positives.map((p) => {
    const [episodes] = alertEpisodes([p.series], threshold, scale, o);
    const opened = episodes!.openAt(p.ts);
    return { machine: p.machine, kind: p.kind, ts: p.ts, warned: opened !== null, leadMs: opened !== null ? p.ts - opened : null };
  });
}

/**
 * The threshold the labelled positives support within the budget: the least sensitive one that still
 * warns of each with at least half the lead the budget's threshold gives it. Null when the budget's
 * threshold misses one of them (nothing within the budget warns of it) or there are none.
 */
export function labelledThreshold(
  positives: readonly Positive[],
  budget: number,
  scale: { median: number; p99: number },
  o: RuleOptions,
): number | null {
  if (positives.length === 0) return null;
  const atBudget = announcements(positives, budget, scale, o);
  if (atBudget.some((a) => !a.warned)) return null;
  let chosen = 1;
  for (const [i, p] of positives.entries()) {
    const want = 0.5 * atBudget[i]!.leadMs!;
    // Lower thresholds are less sensitive: the lowest that keeps half the lead, searched in half points.
    let t = budget;
    while (t - 0.5 >= 1) {
      const [a] = announcements([p], t - 0.5, scale, o);
      if (!a!.warned || a!.leadMs! < want) break;
      t -= 0.5;
    }
    chosen = Math.max(chosen, t);
  }
  return chosen;
}

/** ROC-AUC of scores: positives above negatives (ties count half); null without both. */
export function rocAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number | null {
  if (positives.length === 0 || negatives.length === 0) return null;
  const all = [...Array.from(positives, (v) => ({ v, pos: 1 })), ...Array.from(negatives, (v) => ({ v, pos: 0 }))].sort(
    (a, b) => a.v - b.v,
  );
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k]!.pos) rankSum += rank;
    i = j;
  }
  const P = positives.length;
  return (rankSum - (P * (P + 1)) / 2) / (P * negatives.length);
}

/** False alarms a threshold raises on normal series, and per machine-month. */
export function falseAlarms(
  series: readonly SmoothedSeries[],
  threshold: number,
  scale: { median: number; p99: number },
  o: RuleOptions,
): { count: number; perMachineMonth: number | null } {
  const count = alertEpisodes(series, threshold, scale, o).reduce((n, e) => n + e.opened.length, 0);
  const hours = machineHours(series, o.stepMs);
  return { count, perMachineMonth: hours > 0 ? (count * HOURS_PER_MONTH) / hours : null };
}
