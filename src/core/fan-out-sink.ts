import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { BatchObserver, BatchSink, IngestBatch, RawMessage } from './types.js';

/**
 * Where every accepted batch goes: to the durable sink first (the journal; the message is
 * acknowledged once it is there), then, once it is safe, to each observer (scoring, data quality,
 * alerts). An observer that fails is logged and counted; it costs neither the data nor the others.
 */
export class DurableFanOut implements BatchSink {
  readonly observerErrors: Record<string, number> = {};

  constructor(
    private readonly durable: BatchSink,
    private readonly observers: readonly BatchObserver[],
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  accept(batch: IngestBatch, source?: RawMessage): void | Promise<void> {
    const receivedAt = source?.receivedAt ?? this.clock.now();
    const pending = this.durable.accept(batch, source);
    if (pending) return pending.then(() => this.observe(batch, receivedAt));
    this.observe(batch, receivedAt);
  }

  private observe(batch: IngestBatch, receivedAt: number): void {
    for (const o of this.observers) {
      try {
        o.observe(batch, receivedAt);
      } catch (err) {
        this.observerErrors[o.name] = (this.observerErrors[o.name] ?? 0) + 1;
        this.log.error({ err, observer: o.name }, 'a stage failed to observe a batch; the data is already durable');
      }
    }
  }
}
