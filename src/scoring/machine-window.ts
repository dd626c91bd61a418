import type { MachineRef, Sample } from '../core/types.js';
import { alignToGrid } from '../features/align.js';
import { applyNormalisation, type Normalisation } from '../features/normalize.js';
import { lastWindow } from '../features/windows.js';

interface StepAggregate {
  sum: Record<string, number>;
  count: Record<string, number>;
}

export type WindowResult = { ok: true; x: Float32Array; endTs: number } | { ok: false; reason: string };

/**
 * A machine's recent readings as per-step sums, enough for one model window. Memory is bounded by
 * steps, not readings: a 1 Hz machine on a one-minute grid costs one entry per minute. Windows are
 * built through the same `alignToGrid` as training (one mean per step in, the same fill and gap rules),
 * so what is scored is what the model learned from.
 */
export class MachineWindow {
  private readonly steps = new Map<number, StepAggregate>();
  /** The newest step: it may still be filling. */
  private currentStep = -Infinity;
  readonly latest = new Map<string, { value: number; ts: number }>();
  lastTs = 0;

  constructor(
    readonly ref: MachineRef,
    private readonly stepMs: number,
    /** Steps kept: the window plus the longest gap that may be filled. */
    private readonly keepSteps: number,
  ) {}

  /** Adds a sample (in or out of order; a step's mean takes every reading of it). */
  add(sample: Sample): void {
    const k = Math.floor(sample.ts / this.stepMs);
    let agg = this.steps.get(k);
    if (!agg) {
      agg = { sum: {}, count: {} };
      this.steps.set(k, agg);
    }
    for (const name in sample.values) {
      const v = sample.values[name]!;
      agg.sum[name] = (agg.sum[name] ?? 0) + v;
      agg.count[name] = (agg.count[name] ?? 0) + 1;
      const prev = this.latest.get(name);
      // Updated in place: one object per sensor, not one per reading.
      if (!prev) this.latest.set(name, { value: v, ts: sample.ts });
      else if (prev.ts <= sample.ts) {
        prev.value = v;
        prev.ts = sample.ts;
      }
    }
    if (sample.ts > this.lastTs) this.lastTs = sample.ts;
    if (k > this.currentStep) {
      this.currentStep = k;
      this.prune();
    }
  }

  /** A failure or repair starts a new run: the old readings must not leak into the next window. */
  reset(): void {
    this.steps.clear();
    this.currentStep = -Infinity;
  }

  /**
   * The latest window, ending with the newest step even while it is still filling: waiting for it to
   * close would delay every alert by up to one step, and its mean so far estimates the full one.
   */
  window(norm: Normalisation, windowSteps: number, maxGapSteps: number): WindowResult {
    const steps = [...this.steps.keys()].sort((a, b) => a - b);
    if (steps.length === 0) return { ok: false, reason: 'no data yet' };
    const samples: Sample[] = steps.map((k) => {
      const agg = this.steps.get(k)!;
      const values: Record<string, number> = {};
      for (const name in agg.sum) values[name] = agg.sum[name]! / agg.count[name]!;
      return { machine: this.ref, ts: k * this.stepMs, values };
    });
    const { segments } = alignToGrid(this.ref.machine, samples, norm.sensors, this.stepMs, maxGapSteps);
    const seg = segments[segments.length - 1];
    if (!seg || seg.steps < windowSteps) return { ok: false, reason: `warming up: ${seg?.steps ?? 0} of ${windowSteps} steps since the last gap or reset` };
    const lastStep = steps[steps.length - 1]!;
    if (seg.startTs + seg.steps * this.stepMs <= lastStep * this.stepMs) return { ok: false, reason: 'last steps lack the model sensors' };
    return { ok: true, x: lastWindow(applyNormalisation(seg, norm), windowSteps), endTs: (lastStep + 1) * this.stepMs };
  }

  private prune(): void {
    const oldest = this.currentStep - this.keepSteps;
    for (const k of this.steps.keys()) if (k < oldest) this.steps.delete(k);
  }
}
