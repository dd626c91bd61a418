import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { StageReport } from './stage-report.js';

type Release = () => void | Promise<void>;

/**
 * The daemon's shutdown, built as it starts: each resource registers how it is released right after
 * it is acquired, so stopping runs in reverse by itself, and a start that fails half-way releases
 * exactly what was built.
 */
export class Releasers {
  private readonly stack: Array<{ name: string; release: Release }> = [];

  add(name: string, release: Release): void {
    this.stack.push({ name, release });
  }

  get size(): number {
    return this.stack.length;
  }

  /** Releases everything in reverse; a release that fails is logged and the rest still run. */
  async releaseAll(log: Logger): Promise<void> {
    for (let r = this.stack.pop(); r; r = this.stack.pop()) {
      try {
        await r.release();
      } catch (err) {
        log.error({ err, resource: r.name }, 'release failed; releasing the rest');
      }
    }
  }
}

/** How long shutdown has left: set when it begins, read by the releases that wait (the store flush). */
export class ShutdownDeadline {
  private at = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number) {}

  begin(timeoutMs: number): void {
    this.at = this.now() + timeoutMs;
  }

  left(): number {
    return Number.isFinite(this.at) ? Math.max(0, this.at - this.now()) : Number.POSITIVE_INFINITY;
  }
}

/**
 * What a stage builder registers as it builds: its releases (run in reverse at stop), its reports
 * (status, metrics, readiness), its periodic jobs, and what it starts once every stage is built
 * (sources such as the MQTT subscription start last, so nothing arrives before its consumers exist).
 */
export class Lifecycle {
  readonly releasers = new Releasers();
  readonly reports: StageReport[] = [];
  readonly deadline: ShutdownDeadline;
  private readonly starters: Array<() => void | Promise<void>> = [];
  private readonly sources: Array<() => void | Promise<void>> = [];

  constructor(
    readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.deadline = new ShutdownDeadline(() => clock.now());
  }

  release(name: string, release: Release): void {
    this.releasers.add(name, release);
  }

  report(...reports: StageReport[]): void {
    this.reports.push(...reports);
  }

  /**
   * Runs `start` once every stage is built. A source (what lets data in: the MQTT link, the broker's
   * intake) starts after everything else, whenever it was built.
   */
  whenRunning(start: () => void | Promise<void>, o: { source?: boolean } = {}): void {
    (o.source ? this.sources : this.starters).push(start);
  }

  /** A periodic job whose failure is logged, never thrown into a timer (that would end the daemon). */
  every(name: string, ms: number, job: () => void): void {
    const t = this.clock.setInterval(() => {
      try {
        job();
      } catch (err) {
        this.log.error({ err, job: name }, 'periodic job failed; it runs again at its next interval');
      }
    }, ms);
    if (typeof t === 'object') t.unref?.();
    this.release(`every:${name}`, () => this.clock.clearInterval(t));
  }

  /** Starts what waited for every stage to be built, in the order it was registered, the sources last. */
  async run(): Promise<void> {
    for (const start of [...this.starters.splice(0), ...this.sources.splice(0)]) await start();
  }

  /** Releases everything in reverse within `timeoutMs` (the releases that wait read the deadline). */
  async stop(timeoutMs: number): Promise<void> {
    this.deadline.begin(timeoutMs);
    await this.releasers.releaseAll(this.log);
  }
}
