import { backoffDelay } from '../core/backoff.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AlertStore } from './alert-store.js';
import type { Notifier } from './notifiers/notifier.js';

export interface OutboxOptions {
  retryInitialMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** Extra delay as a share of the backoff, 0..1 (spreads retries of many deliveries). */
  jitter?: () => number;
}

/** Delay before attempt `attempts + 1` after `attempts` failures: doubling, capped, with jitter. */
export function retryDelay(attempts: number, o: OutboxOptions): number {
  return backoffDelay(attempts, { initialMs: o.retryInitialMs, maxMs: o.retryMaxMs, jitter: 0.2, random: o.jitter });
}

/**
 * Delivers the persisted deliveries to their channels. Within a channel deliveries go in order and a
 * failing one holds back the later ones (a receiver never sees "resolved" before "opened"); channels
 * do not wait for each other. After `maxAttempts` a delivery is dead, and later ones proceed.
 */
export class Outbox {
  private timer: TimerHandle = undefined;
  private running = false;
  private again = false;
  private started = false;
  private stopped = false;
  readonly counters = { delivered: 0, failedAttempts: 0, dead: 0, passFailures: 0 };

  constructor(
    private readonly store: AlertStore,
    private readonly notifiers: readonly Notifier[],
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: OutboxOptions,
  ) {}

  start(): void {
    this.started = true;
    this.stopped = false;
    this.kick();
  }

  stop(): void {
    this.started = false;
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  /** Something new is due (an alert changed): deliver now rather than at the next timer. */
  kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // A failing pass (the state DB unreadable, disk full) is logged and retried by the timer; it must
    // never become an unhandled rejection, which would end the daemon.
    this.runOnce().catch((err: unknown) => {
      this.counters.passFailures++;
      this.log.error({ err }, 'notification outbox pass failed; retrying');
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (!this.started) return;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.kick(), this.o.retryInitialMs);
    if (typeof this.timer === 'object' && this.timer?.unref) this.timer.unref();
  }

  async runOnce(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        const due = this.store.deliveries.due(this.clock.now(), 500);
        const byChannel = new Map<string, typeof due>();
        for (const d of due) byChannel.set(d.channel, [...(byChannel.get(d.channel) ?? []), d]);
        await Promise.all([...byChannel].map(([channel, list]) => this.deliverChannel(channel, list)));
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
    this.schedule();
  }

  private async deliverChannel(channel: string, list: ReturnType<AlertStore['deliveries']['due']>): Promise<void> {
    const notifier = this.notifiers.find((n) => n.channel === channel);
    for (const d of list) {
      if (this.stopped) return;
      const event = this.store.events.get(d.eventId);
      if (!notifier || !event) {
        // A channel removed from the config, or a pruned event: nothing can ever deliver it.
        this.store.deliveries.markAttemptFailed(
          d.id,
          notifier ? 'event no longer exists' : `channel ${channel} is not configured`,
          this.clock.now(),
          true,
        );
        this.counters.dead++;
        continue;
      }
      try {
        await notifier.deliver(event, d.id);
        this.store.deliveries.markDelivered(d.id, this.clock.now());
        this.counters.delivered++;
      } catch (err) {
        const attempts = d.attempts + 1;
        const dead = attempts >= this.o.maxAttempts;
        this.store.deliveries.markAttemptFailed(d.id, errorMessage(err), this.clock.now() + retryDelay(attempts, this.o), dead);
        this.counters.failedAttempts++;
        if (dead) {
          this.counters.dead++;
          this.log.error({ channel, delivery: d.id, attempts, err }, 'notification delivery is dead after its last attempt');
          continue;
        }
        this.log.warn({ channel, delivery: d.id, attempts, err }, 'notification delivery failed; will retry');
        return;
      }
    }
  }

  private schedule(): void {
    if (!this.started) return;
    this.clock.clearTimeout(this.timer);
    const next = this.store.deliveries.nextAt();
    if (next === null) return;
    this.timer = this.clock.setTimeout(() => this.kick(), Math.max(10, next - this.clock.now()));
    if (typeof this.timer === 'object' && this.timer?.unref) this.timer.unref();
  }
}
