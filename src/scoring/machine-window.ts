import type { MachineRef, Sample } from '../core/types.js';
import { SensorLayout, widen } from '../core/sensor-layout.js';
import { alignToGrid } from '../features/align.js';
import { applyNormalisation, type Normalisation } from '../features/normalize.js';
import { lastWindow } from '../features/windows.js';

/** `missing`: model inputs with no reading since the last gap or reset, scored at their training mean. */
export type WindowResult = { ok: true; x: Float32Array; endTs: number; missing: string[] } | { ok: false; reason: string };

/** What became of a sample: taken into the window, or older than the window (or the current run) and left to the store. */
export interface AddOutcome {
  late: boolean;
  /** Values of sensors beyond the machine's sensor cap, not tracked. */
  untracked: number;
}

const ADDED: AddOutcome = Object.freeze({ late: false, untracked: 0 });
const LATE: AddOutcome = Object.freeze({ late: true, untracked: 0 });

/**
 * A machine's recent readings as per-step sums, enough for one model window, and never more: a
 * reading older than the window's oldest step, or from before the current run began (a failure or
 * repair), is late — it is stored, but it does not rewind live scoring. So memory is bounded by
 * `keepSteps` whatever order readings arrive in (a bridge backfilling hours of data sends them in
 * any order). Windows are built through the same `alignToGrid` as training (one mean per step in,
 * the same fill and gap rules), so what is scored is what the model learned from.
 */
export class MachineWindow {
  /** Per step: sums of each sensor in [0, n), counts in [n, 2n), n = the array's half length. */
  private readonly steps = new Map<number, Float64Array>();
  /** The newest step: it may still be filling. */
  private currentStep = -Infinity;
  /** The first step of the current run: anything before it belongs to a run that has ended. */
  private runStartStep = -Infinity;
  private layout: SensorLayout;
  private latestValue = new Float64Array(0);
  private latestTs = new Float64Array(0);
  lastTs = 0;

  constructor(
    readonly ref: MachineRef,
    private readonly stepMs: number,
    /** Steps kept: the window plus the longest gap that may be filled. */
    private readonly keepSteps: number,
    layouts: SensorLayout = SensorLayout.root(),
    private readonly maxSensors = 1000,
  ) {
    this.layout = layouts;
  }

  /** Adds a sample: in or out of order within the window, a step's mean takes every reading of it. */
  add(sample: Sample): AddOutcome {
    const k = Math.floor(sample.ts / this.stepMs);
    if (k < this.runStartStep || k < this.currentStep - this.keepSteps) return LATE;
    let agg = this.steps.get(k);
    let untracked = 0;
    for (const name in sample.values) {
      let i = this.layout.indexOf(name);
      if (i === undefined) {
        if (this.layout.width >= this.maxSensors) {
          untracked++;
          continue;
        }
        i = this.addSensor(name);
      }
      if (!agg || i >= agg.length / 2) agg = this.stepRow(k, agg);
      const v = sample.values[name]!;
      agg[i]! += v;
      agg[agg.length / 2 + i]! += 1;
      if (this.latestTs[i]! <= sample.ts) {
        this.latestValue[i] = v;
        this.latestTs[i] = sample.ts;
      }
    }
    if (sample.ts > this.lastTs) this.lastTs = sample.ts;
    if (k > this.currentStep) {
      this.currentStep = k;
      this.prune();
    }
    return untracked === 0 ? ADDED : { late: false, untracked };
  }

  /** The newest reading of each sensor. */
  latest(): Record<string, { value: number; ts: number }> {
    const out: Record<string, { value: number; ts: number }> = {};
    this.layout.names.forEach((name, i) => {
      if (this.latestTs[i]! > -Infinity) out[name] = { value: this.latestValue[i]!, ts: this.latestTs[i]! };
    });
    return out;
  }

  private addSensor(name: string): number {
    this.layout = this.layout.with(name);
    const i = this.layout.width - 1;
    this.latestValue = widen(this.latestValue, i + 1, 0);
    this.latestTs = widen(this.latestTs, i + 1, -Infinity);
    return i;
  }

  /** Step k's row, made (or made wider, for a sensor that appeared since it began) with room for every sensor so far. */
  private stepRow(k: number, old: Float64Array | undefined): Float64Array {
    const n = this.latestValue.length;
    const row = new Float64Array(2 * n);
    if (old) {
      const m = old.length / 2;
      row.set(old.subarray(0, m), 0);
      row.set(old.subarray(m), n);
    }
    this.steps.set(k, row);
    return row;
  }

  /**
   * A failure, repair or maintenance at `ts` ends the run: readings before it must not leak into the
   * next window, and readings of it that arrive later are late. An event older than the window
   * (recorded afterwards, or backfilled) drops nothing the window still holds.
   */
  reset(ts: number): void {
    const start = Math.ceil(ts / this.stepMs);
    if (start <= this.runStartStep) return;
    this.runStartStep = start;
    for (const k of this.steps.keys()) if (k < start) this.steps.delete(k);
  }

  /**
   * The latest window, ending with the newest step even while it is still filling: waiting for it to
   * close would delay every alert by up to one step, and its mean so far estimates the full one.
   */
  window(norm: Normalisation, windowSteps: number, maxGapSteps: number): WindowResult {
    const steps = [...this.steps.keys()].sort((a, b) => a - b);
    if (steps.length === 0) return { ok: false, reason: 'no data yet' };
    const names = this.layout.names;
    const samples: Sample[] = steps.map((k) => {
      const row = this.steps.get(k)!;
      const n = row.length / 2;
      const values: Record<string, number> = {};
      for (let i = 0; i < n && i < names.length; i++) if (row[n + i]! > 0) values[names[i]!] = row[i]! / row[n + i]!;
      return { machine: this.ref, ts: k * this.stepMs, values };
    });
    const { segments } = alignToGrid(this.ref.machine, samples, norm.sensors, this.stepMs, maxGapSteps);
    const seg = segments[segments.length - 1];
    if (!seg || seg.steps < windowSteps) return { ok: false, reason: `warming up: ${seg?.steps ?? 0} of ${windowSteps} steps since the last gap or reset` };
    const lastStep = steps[steps.length - 1]!;
    if (seg.startTs + seg.steps * this.stepMs <= lastStep * this.stepMs) return { ok: false, reason: 'last steps lack the model sensors' };
    // Fill carries a sensor's values over the whole segment once it has one, so an empty last row means none at all.
    const F = norm.sensors.length;
    const lastRow = (seg.steps - 1) * F;
    const missing = norm.sensors.filter((_, f) => Number.isNaN(seg.data[lastRow + f]!));
    return { ok: true, x: lastWindow(applyNormalisation(seg, norm), windowSteps), endTs: (lastStep + 1) * this.stepMs, missing };
  }

  /** Steps held now: at most keepSteps + 1, whatever the input order. */
  get heldSteps(): number {
    return this.steps.size;
  }

  private prune(): void {
    const oldest = Math.max(this.currentStep - this.keepSteps, this.runStartStep);
    for (const k of this.steps.keys()) if (k < oldest) this.steps.delete(k);
  }
}
