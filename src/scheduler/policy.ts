import { bestWindow, meanOver, type SeriesPoint, type Window } from './series.js';

export type Objective = 'carbon' | 'price' | 'weighted';

export interface PolicyInput {
  now: number;
  /** Why a run is due (null: no reason, no run) and whether it must run regardless of cost. */
  need: { reason: string | null; forced: boolean; heldBack?: string };
  /** When the need arose plus the allowed delay: the run must have finished by then. */
  deadline: number;
  expectedRunMs: number;
  carbon: SeriesPoint[] | null;
  price: SeriesPoint[] | null;
  objective: Objective;
  weights: { carbon: number; price: number };
  /** Start now when now's cost is within this share of the best window's. */
  tolerance: number;
  /** Why the host is busy now, or null when idle. */
  busy: string | null;
  /** Busy periods ahead (plant shifts) as 0/1 series: a run overlapping one waits. */
  busyCalendar: SeriesPoint[] | null;
  onBattery: boolean;
  budget: { usedKWh: number; limitKWh: number | null; expectedRunKWh: number };
}

export interface Decision {
  action: 'train' | 'defer' | 'skip';
  reason: string;
  /** The cheapest/cleanest window before the deadline, when a cost series was available. */
  window: Window | null;
  /** Cost of starting now (same unit as the window's). */
  nowCost: number | null;
  unit: string | null;
}

const fmt = (t: number) => new Date(t).toISOString().slice(11, 16);

/**
 * Carbon, price, or both (each scaled by its own mean over the horizon, then weighted), so one
 * number ranks every start time.
 */
export function costSeries(
  i: Pick<PolicyInput, 'carbon' | 'price' | 'objective' | 'weights' | 'now' | 'deadline'>,
): { series: SeriesPoint[]; unit: string } | null {
  if (i.objective === 'carbon')
    return i.carbon ? { series: i.carbon, unit: 'gCO2e/kWh' } : i.price ? { series: i.price, unit: 'price/kWh' } : null;
  if (i.objective === 'price')
    return i.price ? { series: i.price, unit: 'price/kWh' } : i.carbon ? { series: i.carbon, unit: 'gCO2e/kWh' } : null;
  if (!i.carbon || !i.price) return costSeries({ ...i, objective: i.carbon ? 'carbon' : 'price' });
  const span = Math.max(1, i.deadline - i.now);
  const cm = meanOver(i.carbon, i.now, span) ?? 1;
  const pm = meanOver(i.price, i.now, span) ?? 1;
  const price = i.price;
  const series = i.carbon.map((p) => {
    const pv = meanOver(price, p.ts, p.durationMs) ?? pm;
    return { ...p, value: (i.weights.carbon * p.value) / (cm || 1) + (i.weights.price * pv) / (pm || 1) };
  });
  return { series, unit: 'weighted cost' };
}

/**
 * Train now, defer, or skip — with the reason. A forced need (model too old, deadline reached)
 * trains at once. Otherwise: on battery or over the energy budget → defer; then the cheapest
 * window of the expected run length that ends by the deadline is found (the Carbon Aware SDK's
 * optimal data point), and the run starts when now is that window (within `tolerance`), the host is
 * idle and no busy period falls inside the run.
 */
export function decide(i: PolicyInput): Decision {
  const base = { window: null, nowCost: null, unit: null };
  if (!i.need.reason)
    return {
      action: 'skip',
      reason: i.need.heldBack ?? 'no reason to train: no new failures, no drift, model within its age',
      ...base,
    };
  const latestStart = i.deadline - i.expectedRunMs;
  if (i.need.forced || i.now >= latestStart) {
    return {
      action: 'train',
      reason: `${i.need.reason}; ${i.need.forced ? 'forced' : `deadline ${fmt(i.deadline)} leaves no later start`}`,
      ...base,
    };
  }
  if (i.onBattery) return { action: 'defer', reason: `${i.need.reason}; deferred: running on battery`, ...base };
  if (i.budget.limitKWh !== null && i.budget.usedKWh + i.budget.expectedRunKWh > i.budget.limitKWh) {
    return {
      action: 'defer',
      reason: `${i.need.reason}; deferred: energy budget ${i.budget.usedKWh.toFixed(3)} of ${i.budget.limitKWh} kWh used, a run needs about ${i.budget.expectedRunKWh.toFixed(3)}`,
      ...base,
    };
  }
  const cost = costSeries(i);
  let window: Window | null = null;
  let nowCost: number | null = null;
  if (cost) {
    window = bestWindow(cost.series, i.now, latestStart, i.expectedRunMs);
    nowCost = meanOver(cost.series, i.now, i.expectedRunMs);
    if (window && nowCost !== null && nowCost > window.mean * (1 + i.tolerance)) {
      return {
        action: 'defer',
        reason: `${i.need.reason}; deferred: ${nowCost.toFixed(1)} ${cost.unit} now, ${window.mean.toFixed(1)} expected ${fmt(window.start)}–${fmt(window.end)} UTC, before deadline ${fmt(i.deadline)}`,
        window,
        nowCost,
        unit: cost.unit,
      };
    }
  }
  const extra = { window, nowCost, unit: cost?.unit ?? null };
  if (i.busy) return { action: 'defer', reason: `${i.need.reason}; deferred: host busy (${i.busy})`, ...extra };
  if (i.busyCalendar && i.busyCalendar.some((p) => p.value > 0 && p.ts < i.now + i.expectedRunMs && p.ts + p.durationMs > i.now)) {
    return { action: 'defer', reason: `${i.need.reason}; deferred: the run would overlap a busy period of the plant`, ...extra };
  }
  const why = cost
    ? nowCost === null
      ? 'no forecast for now'
      : `${nowCost.toFixed(1)} ${cost.unit}, the best window before the deadline`
    : 'no price or carbon data; host idle';
  return { action: 'train', reason: `${i.need.reason}; ${why}`, ...extra };
}
