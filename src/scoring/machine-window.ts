import type { MachineRef, Sample } from '../core/types.js';
import { Float64Pool } from '../core/f64-pool.js';
import { SensorLayout } from '../core/sensor-layout.js';
import { alignToGrid, applyNormalisation, channels, type Normalisation, lastWindow } from '../features/index.js';

/** `missing`: model inputs with no reading since the last gap or reset, scored at their training mean. */
export type WindowResult = { ok: true; x: Float32Array; endTs: number; missing: string[] } | { ok: false; reason: string };

/** What became of a sample: taken into the window, or older than the window (or the current run) and left to the store. */
export interface AddOutcome {
  late: boolean;
  /** Values of sensors beyond the machine's sensor cap, not tracked. */
  untracked: number;
}

const ADDED: AddOutcome = Object.freeze({ late: false, untracked: 0 });
/** What a window reads before its first reading: the header's starting values, never written. */
const NO_BLOCK = Float64Array.of(0, -Infinity, -Infinity);
const LATE: AddOutcome = Object.freeze({ late: true, untracked: 0 });

// Header of the machine's one array: the newest reading's time, the newest step, the current run's first step.
const LAST_TS = 0;
const CURRENT_STEP = 1;
const RUN_START = 2;
const HEADER = 3;

/**
 * A machine's recent readings as per-step sums, enough for one model window, and never more: a
 * reading older than the window's oldest step, or from before the current run began (a failure or
 * repair), is late — it is stored, but it does not rewind live scoring. So memory is bounded by
 * `keepSteps` whatever order readings arrive in (a bridge backfilling hours of data sends them in
 * any order). Windows are built through the same `alignToGrid` as training (one mean per step in,
 * the same fill and gap rules), so what is scored is what the model learned from.
 *
 * A gateway may score tens of thousands of machines, so each holds one block of numbers in a shared
 * pool: the header, the newest value and time of each sensor, then slots of [step, sums…, counts…],
 * grown as sensors and steps appear (one object per machine; sensor names live in a shared layout).
 */
export class MachineWindow {
  private layout: SensorLayout;
  /** Sensors each slot has room for, and slots (steps) the block has room for. */
  private cap = 0;
  private slots = 0;
  /** The block: a handle into the pool, its length, and where it lies (blocks never move). */
  private h: number;
  private length = HEADER;
  private d: Float64Array;
  private o: number;

  constructor(
    readonly ref: MachineRef,
    readonly stepMs: number,
    /** Steps kept: the window plus the longest gap that may be filled. */
    readonly keepSteps: number,
    /** Where its sensor layout starts: the shared root, or the layout of the window it replaces. */
    layouts: SensorLayout = SensorLayout.root(),
    private readonly maxSensors = 1000,
    private readonly pool: Float64Pool = new Float64Pool(),
  ) {
    this.layout = layouts;
    // The block is made at the first reading, at its full size (a first block of the header alone
    // would only be left on a free list).
    this.h = -1;
    this.d = NO_BLOCK;
    this.o = 0;
    this.length = HEADER;
  }

  /** Gives the machine's numbers back to the pool; the window is not used after. */
  dispose(): void {
    if (this.h >= 0) this.pool.release(this.h, this.length);
  }

  /** Its sensors, as a layout shared by every machine that sends the same ones in the same order. */
  get sensorLayout(): SensorLayout {
    return this.layout;
  }

  get lastTs(): number {
    const { d, o } = this;
    return d[o + LAST_TS]!;
  }

  /** Adds a sample: in or out of order within the window, a step's mean takes every reading of it. */
  add(sample: Sample): AddOutcome {
    const k = Math.floor(sample.ts / this.stepMs);
    {
      const { d, o } = this;
      if (k < d[o + RUN_START]! || k < d[o + CURRENT_STEP]! - this.keepSteps) return LATE;
    }
    // New sensors first, so the block is sized once for all of them (exactly, for a machine's first reading).
    for (const name in sample.values) {
      if (this.layout.indexOf(name) === undefined && this.layout.width < this.maxSensors) this.layout = this.layout.with(name);
    }
    if (this.layout.width > this.cap || this.h < 0) this.resize(this.cap === 0 ? this.layout.width : this.layout.width + 4, this.slots);
    let untracked = 0;
    let slot = -1;
    for (const name in sample.values) {
      const i = this.layout.indexOf(name);
      if (i === undefined) {
        untracked++;
        continue;
      }
      if (slot < 0) slot = this.slotFor(k);
      const { d, o } = this;
      const cap = this.cap;
      const base = o + HEADER + 2 * cap + slot * (1 + 2 * cap);
      const v = sample.values[name]!;
      d[base + 1 + i]! += v;
      d[base + 1 + cap + i]! += 1;
      if (d[o + HEADER + cap + i]! <= sample.ts) {
        d[o + HEADER + i] = v;
        d[o + HEADER + cap + i] = sample.ts;
      }
    }
    const { d, o } = this;
    if (sample.ts > d[o + LAST_TS]!) d[o + LAST_TS] = sample.ts;
    if (k > d[o + CURRENT_STEP]!) {
      d[o + CURRENT_STEP] = k;
      this.prune(Math.max(k - this.keepSteps, d[o + RUN_START]!));
    }
    return untracked === 0 ? ADDED : { late: false, untracked };
  }

  /** The slot holding step k: found, a free one, or a new one (the block grows, up to keepSteps + 2). */
  private slotFor(k: number): number {
    let { d, o } = this;
    const stride = 1 + 2 * this.cap;
    const first = o + HEADER + 2 * this.cap;
    let free = -1;
    for (let j = 0; j < this.slots; j++) {
      const step = d[first + j * stride]!;
      if (step === k) return j;
      if (free < 0 && Number.isNaN(step)) free = j;
    }
    if (free < 0) {
      free = this.slots;
      this.resize(this.cap, Math.min(this.keepSteps + 2, Math.max(1, this.slots * 2)));
      ({ d, o } = this);
    }
    const base = o + HEADER + 2 * this.cap + free * (1 + 2 * this.cap);
    d.fill(0, base, base + 1 + 2 * this.cap);
    d[base] = k;
    return free;
  }

  /** A new block for `cap` sensors and `slots` steps, the old contents copied into their places. */
  private resize(cap: number, slots: number): void {
    const { d: old, o: oo } = this;
    const fresh = this.h < 0;
    const oldCap = this.cap;
    const length = HEADER + 2 * cap + slots * (1 + 2 * cap);
    const h = this.pool.alloc(length);
    const d = this.pool.slab(h);
    const o = this.pool.offset(h);
    d.set(old.subarray(oo, oo + HEADER), o);
    d.fill(-Infinity, o + HEADER + cap, o + HEADER + 2 * cap);
    d.set(old.subarray(oo + HEADER, oo + HEADER + oldCap), o + HEADER);
    d.set(old.subarray(oo + HEADER + oldCap, oo + HEADER + 2 * oldCap), o + HEADER + cap);
    const first = o + HEADER + 2 * cap;
    for (let j = 0; j < slots; j++) d[first + j * (1 + 2 * cap)] = NaN;
    for (let j = 0; j < this.slots; j++) {
      const from = oo + HEADER + 2 * oldCap + j * (1 + 2 * oldCap);
      const to = first + j * (1 + 2 * cap);
      d[to] = old[from]!;
      d.set(old.subarray(from + 1, from + 1 + oldCap), to + 1);
      d.set(old.subarray(from + 1 + oldCap, from + 1 + 2 * oldCap), to + 1 + cap);
    }
    if (!fresh) this.pool.release(this.h, this.length);
    this.h = h;
    this.d = d;
    this.o = o;
    this.length = length;
    this.cap = cap;
    this.slots = slots;
  }

  /** The newest reading of each sensor. */
  latest(): Record<string, { value: number; ts: number }> {
    const out: Record<string, { value: number; ts: number }> = {};
    const { d, o } = this;
    this.layout.names.forEach((name, i) => {
      if (i < this.cap && d[o + HEADER + this.cap + i]! > -Infinity)
        out[name] = { value: d[o + HEADER + i]!, ts: d[o + HEADER + this.cap + i]! };
    });
    return out;
  }

  /**
   * A failure, repair or maintenance at `ts` ends the run: readings before it must not leak into the
   * next window, and readings of it that arrive later are late. An event older than the window
   * (recorded afterwards, or backfilled) drops nothing the window still holds.
   */
  reset(ts: number): void {
    const start = Math.ceil(ts / this.stepMs);
    if (this.h < 0) this.resize(0, 0);
    const { d, o } = this;
    if (start <= d[o + RUN_START]!) return;
    d[o + RUN_START] = start;
    this.prune(start);
  }

  /** Data time of the newest step held, or null when none is. */
  newestTs(): number | null {
    const held = this.heldSlots();
    return held.length > 0 ? held[held.length - 1]!.step * this.stepMs : null;
  }

  /** Steps held, oldest first. */
  private heldSlots(): Array<{ step: number; base: number }> {
    const out: Array<{ step: number; base: number }> = [];
    const { d, o } = this;
    const stride = 1 + 2 * this.cap;
    const first = o + HEADER + 2 * this.cap;
    for (let j = 0; j < this.slots; j++) {
      const step = d[first + j * stride]!;
      if (!Number.isNaN(step)) out.push({ step, base: first + j * stride });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /**
   * The latest window, ending with the newest step even while it is still filling: waiting for it to
   * close would delay every alert by up to one step, and its mean so far estimates the full one.
   */
  window(norm: Normalisation, windowSteps: number, maxGapSteps: number): WindowResult {
    const held = this.heldSlots();
    if (held.length === 0) return { ok: false, reason: 'no data yet' };
    const names = this.layout.names;
    const cap = this.cap;
    const { d } = this;
    const samples: Sample[] = held.map(({ step, base }) => {
      const values: Record<string, number> = {};
      for (let i = 0; i < cap && i < names.length; i++)
        if (d[base + 1 + cap + i]! > 0) values[names[i]!] = d[base + 1 + i]! / d[base + 1 + cap + i]!;
      return { machine: this.ref, ts: step * this.stepMs, values };
    });
    const read = channels(norm);
    const { segments } = alignToGrid(this.ref.machine, samples, read, this.stepMs, maxGapSteps);
    const seg = segments[segments.length - 1];
    if (!seg || seg.steps < windowSteps)
      return { ok: false, reason: `warming up: ${seg?.steps ?? 0} of ${windowSteps} steps since the last gap or reset` };
    const lastStep = held[held.length - 1]!.step;
    if (seg.startTs + seg.steps * this.stepMs <= lastStep * this.stepMs) return { ok: false, reason: 'last steps lack the model sensors' };
    // Fill carries a sensor's values over the whole segment once it has one, so an empty last row means none at all.
    const F = read.length;
    const lastRow = (seg.steps - 1) * F;
    // A missing condition leaves the regime unknown: the sensors are then judged on the overall statistics.
    const missing = read.filter((_, f) => Number.isNaN(seg.data[lastRow + f]!));
    return { ok: true, x: lastWindow(applyNormalisation(seg, norm), windowSteps), endTs: (lastStep + 1) * this.stepMs, missing };
  }

  /** Steps held now: at most keepSteps + 1, whatever the input order. */
  get heldSteps(): number {
    return this.heldSlots().length;
  }

  /** Frees the slots of steps before `oldest`. */
  private prune(oldest: number): void {
    const { d, o } = this;
    const stride = 1 + 2 * this.cap;
    const first = o + HEADER + 2 * this.cap;
    for (let j = 0; j < this.slots; j++) if (d[first + j * stride]! < oldest) d[first + j * stride] = NaN;
  }
}
