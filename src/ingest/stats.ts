import type { Clock } from '../core/clock.js';
import { RateMeter } from '../core/rate.js';
import type { Rejection, RejectReason } from '../core/reasons.js';

/** Counters the status endpoint and metrics read; updated on the ingest hot path, so plain fields. */
export class IngestStats {
  messagesReceived = 0;
  /** Messages with at least one accepted reading or event. */
  messagesAccepted = 0;
  /** Messages of which nothing was accepted. */
  messagesRejected = 0;
  /** Messages of protocol state only (a Sparkplug DEATH): neither readings nor refused. */
  messagesControl = 0;
  readingsAccepted = 0;
  eventsAccepted = 0;
  deadLetterErrors = 0;
  readonly rejectedByReason: Partial<Record<RejectReason, number>> = {};
  readonly messageRate: RateMeter;
  readonly readingRate: RateMeter;

  constructor(clock: Clock) {
    this.messageRate = new RateMeter(clock);
    this.readingRate = new RateMeter(clock);
  }

  countRejections(rejections: readonly Rejection[]): void {
    for (const r of rejections) this.rejectedByReason[r.reason] = (this.rejectedByReason[r.reason] ?? 0) + 1;
  }
}
