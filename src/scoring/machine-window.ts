import type { MachineRef, Sample } from '../core/types.js';
import { alignToGrid } from '../features/align.js';
import { applyNormalisation, type Normalisation } from '../features/normalize.js';
import { lastWindow } from '../features/windows.js';

/** Per step, sum and count of each sensor's readings, indexed by the machine's sensor numbering. */
interface StepAggregate {
  sum: Float64Array;
  count: Float64Array;
}

/** `missing`: model inputs with no reading since the last gap or reset, scored at their training mean. */
export type WindowResult = { ok: true; x: Float32Array; endTs: number; missing: string[] } | { ok: false; reason: string };

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
  /** Sensors in order of first sight: their index in every per-sensor array. */
  private readonly sensorIndex = new Map<string, number>();
  private readonly sensorNames: string[] = [];
  private latestValue = new Float64Array(16);
  private latestTs = new Float64Array(16);
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
      agg = { sum: new Float64Array(this.latestValue.length), count: new Float64Array(this.latestValue.length) };
      this.steps.set(k, agg);
    }
    for (const name in sample.values) {
      const v = sample.values[name]!;
      let i = this.sensorIndex.get(name);
      if (i === undefined) i = this.addSensor(name);
      if (i >= agg.sum.length) agg = this.widen(k, agg);
      agg.sum[i]! += v;
      agg.count[i]! += 1;
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
  }

  /** The newest reading of each sensor. */
  latest(): Record<string, { value: number; ts: number }> {
    const out: Record<string, { value: number; ts: number }> = {};
    this.sensorNames.forEach((name, i) => (out[name] = { value: this.latestValue[i]!, ts: this.latestTs[i]! }));
    return out;
  }

  private addSensor(name: string): number {
    const i = this.sensorNames.push(name) - 1;
    this.sensorIndex.set(name, i);
    if (i >= this.latestValue.length) {
      const grow = (a: Float64Array, fill: number) => {
        const b = new Float64Array(a.length * 2).fill(fill);
        b.set(a);
        return b;
      };
      this.latestValue = grow(this.latestValue, 0);
      this.latestTs = grow(this.latestTs, -Infinity);
    }
    this.latestTs[i] = -Infinity;
    return i;
  }

  /** A step begun before a new sensor appeared gets room for it. */
  private widen(k: number, agg: StepAggregate): StepAggregate {
    const wider = { sum: new Float64Array(this.latestValue.length), count: new Float64Array(this.latestValue.length) };
    wider.sum.set(agg.sum);
    wider.count.set(agg.count);
    this.steps.set(k, wider);
    return wider;
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
      for (let i = 0; i < agg.sum.length && i < this.sensorNames.length; i++) if (agg.count[i]! > 0) values[this.sensorNames[i]!] = agg.sum[i]! / agg.count[i]!;
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

  private prune(): void {
    const oldest = this.currentStep - this.keepSteps;
    for (const k of this.steps.keys()) if (k < oldest) this.steps.delete(k);
  }
}
