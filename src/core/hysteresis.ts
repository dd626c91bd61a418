/**
 * Thresholds of an alert rule (failure risk, or how far health fell); `high` ≥ `low` gives the
 * hysteresis band. Shared by the alerts and by the health model's calibration, which counts the
 * false alarms a threshold would raise the way the alerts would open them.
 */
export interface HysteresisOptions {
  high: number;
  low: number;
  /** Consecutive scores at or above `high` before an alert opens (debounce). */
  openAfter: number;
  /** Consecutive scores below `low` before an open alert closes by itself. */
  closeAfter: number;
}

export type HysteresisTransition = 'open' | 'update' | 'close' | null;

/**
 * Per-machine debounce with hysteresis. One score above the line is noise; `openAfter` in a row is a
 * trend. Scores between `low` and `high` keep the current state and break both runs, so a machine
 * hovering at the line neither opens nor closes alerts repeatedly.
 */
export class HysteresisRule {
  private above = 0;
  private below = 0;
  open = false;

  constructor(private o: HysteresisOptions) {}

  get high(): number {
    return this.o.high;
  }

  /** A new champion brings its own threshold; the runs counted so far stay. */
  setHigh(high: number, low: number): void {
    if (high !== this.o.high || low !== this.o.low) this.o = { ...this.o, high, low };
  }

  observe(probability: number): HysteresisTransition {
    if (probability >= this.o.high) {
      this.above++;
      this.below = 0;
    } else if (probability < this.o.low) {
      this.below++;
      this.above = 0;
    } else {
      this.above = 0;
      this.below = 0;
    }
    if (!this.open && this.above >= this.o.openAfter) {
      this.open = true;
      return 'open';
    }
    if (this.open && this.below >= this.o.closeAfter) {
      this.open = false;
      return 'close';
    }
    if (this.open && probability >= this.o.high) return 'update';
    return null;
  }

  /** The alert was closed from outside (technician, failure): start counting afresh. */
  reset(open = false): void {
    this.open = open;
    this.above = 0;
    this.below = 0;
  }
}
