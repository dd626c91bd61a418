import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Type } from '@sinclair/typebox';
import type { Lifecycle } from './lifecycle.js';
import { stageReport, type StageReport } from './stage-report.js';

/** Sampling period of the event-loop monitor; each sample includes it, so it is taken off. */
export const LAG_RESOLUTION_MS = 20;

export const eventLoopFields = {
  eventLoopLagMs: Type.Object(
    { p50: Type.Number(), p99: Type.Number(), max: Type.Number() },
    { description: 'daemon thread, last minute' },
  ),
};

/** Event-loop delay of the daemon thread: what every MQTT and HTTP answer waits behind. */
export class EventLoopLag {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  /** Starts a new measuring period (each minute, and once start-up work is done). */
  reset(): void {
    this.histogram.reset();
  }

  read(): { p50: number; p99: number; max: number } {
    const h = this.histogram;
    if (h.count === 0) return { p50: 0, p99: 0, max: 0 };
    const ms = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  }

  report(): StageReport<typeof eventLoopFields> {
    return stageReport({
      // Shown with scoring since the first status page: scoring rounds are what most often hold the loop.
      section: 'scoring',
      fields: eventLoopFields,
      read: () => ({ eventLoopLagMs: this.read() }),
      metrics: [
        {
          name: 'vigil_event_loop_lag_seconds',
          help: 'event-loop delay of the daemon thread',
          type: 'gauge',
          labelNames: ['quantile'],
          read: () => {
            const l = this.read();
            return [
              [{ quantile: '0.5' }, l.p50 / 1000],
              [{ quantile: '0.99' }, l.p99 / 1000],
              [{ quantile: '1' }, l.max / 1000],
            ];
          },
        },
      ],
    });
  }
}

/** The daemon's lag monitor: reported, reset each minute, and once start-up work is done (it is not the running daemon's). */
export function watchEventLoop(life: Lifecycle): EventLoopLag {
  const lag = new EventLoopLag();
  lag.start();
  life.release('event-loop monitor', () => lag.stop());
  life.every('lag-period', 60_000, () => lag.reset());
  life.report(lag.report());
  life.whenRunning(() => lag.reset());
  return lag;
}
