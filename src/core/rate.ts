import type { Clock } from './clock.js';

/** Events per second over a sliding window of one-second buckets; O(1) per add. */
export class RateMeter {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;

  constructor(
    private readonly clock: Clock,
    private readonly windowSeconds = 10,
  ) {
    this.buckets = new Float64Array(windowSeconds);
    this.stamps = new Float64Array(windowSeconds).fill(-1);
  }

  /** Counts `n` now; `now` may be passed by a caller that has just read the clock. */
  add(n = 1, now = this.clock.now()): void {
    const sec = Math.floor(now / 1000);
    const i = sec % this.windowSeconds;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  /** Mean rate over the last full window seconds (the current, partial second excluded). */
  perSecond(): number {
    const now = Math.floor(this.clock.now() / 1000);
    let sum = 0;
    for (let k = 1; k <= this.windowSeconds; k++) {
      const sec = now - k;
      const i = ((sec % this.windowSeconds) + this.windowSeconds) % this.windowSeconds;
      if (this.stamps[i] === sec) sum += this.buckets[i]!;
    }
    return sum / this.windowSeconds;
  }
}
