/**
 * Paces a stream whose timestamps are data time: at `speed`× wall time (or as fast as possible with
 * 'max'), and never above `rateLimit` messages per second when one is set.
 */
export class Pacer {
  private wallStart = 0;
  private dataStart = 0;
  private sent = 0;

  constructor(
    private readonly speed: number | 'max',
    private readonly rateLimit: number | null = null,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(dataStart: number): void {
    this.dataStart = dataStart;
    this.wallStart = this.now();
    this.sent = 0;
  }

  /** Waits until the message at data time `dataTs` is due, counting it against the rate limit. */
  async due(dataTs: number): Promise<void> {
    this.sent++;
    let waitMs = 0;
    if (this.speed !== 'max') waitMs = this.wallStart + (dataTs - this.dataStart) / this.speed - this.now();
    if (this.rateLimit !== null) waitMs = Math.max(waitMs, this.wallStart + (this.sent / this.rateLimit) * 1000 - this.now());
    // Sleeping below a few ms costs more than it paces; let small debts accumulate.
    if (waitMs >= 5) await new Promise((r) => setTimeout(r, waitMs));
  }
}

export function parseSpeed(value: string): number | 'max' {
  if (value === 'max') return 'max';
  const n = Number(value.replace(/x$/i, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--speed must be a positive number or "max", got ${JSON.stringify(value)}`);
  return n;
}
