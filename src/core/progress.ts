import cliProgress from 'cli-progress';

/** A bar on a terminal; a plain line every few seconds otherwise (logs, CI, pipes). */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number | null,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (stream.isTTY && total !== null && total > 0) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {value}/{total} msgs | {rate} msgs/s | {detail}`, stream, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: 0, detail: '' });
    }
  }

  update(done: number, detail = ''): void {
    const rate = Math.round(done / Math.max(0.001, (performance.now() - this.started) / 1000));
    if (this.bar) {
      this.bar.update(Math.min(done, this.total ?? done), { rate, detail });
      return;
    }
    const now = performance.now();
    if (now - this.lastLine < 5000) return;
    this.lastLine = now;
    const pct = this.total ? ` (${((100 * done) / this.total).toFixed(1)}%)` : '';
    this.stream.write(`${this.label}: ${done}${this.total ? `/${this.total}` : ''} msgs${pct}, ${rate} msgs/s ${detail}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}
