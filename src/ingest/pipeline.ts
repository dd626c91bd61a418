import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { BatchSink } from '../core/types.js';
import { payloadExcerpt, type DeadLetterSink } from './dead-letter.js';
import type { MessageDecoder } from './decoder.js';
import type { IngestStats } from './stats.js';

/**
 * One MQTT message in: decode, count, dead-letter what was refused, hand the rest to the durable
 * sink. Returns a promise only when the sink has to wait; the caller acknowledges after it settles.
 */
export class IngestPipeline {
  constructor(
    private readonly decoder: MessageDecoder,
    private readonly sink: BatchSink,
    private readonly deadLetters: DeadLetterSink,
    private readonly stats: IngestStats,
    private readonly clock: Clock,
  ) {}

  handle(topic: string, payload: Uint8Array): void | Promise<void> {
    const st = this.stats;
    st.messagesReceived++;
    const receivedAt = this.clock.now();
    st.messageRate.add(1, receivedAt);
    let decoded;
    try {
      decoded = this.decoder.decode(topic, payload, receivedAt);
    } catch (err) {
      // A decoder bug must cost one message (dead-lettered, counted), never the stream.
      decoded = { batch: { samples: [], events: [] }, rejections: [{ reason: 'internal_error' as const, detail: errorMessage(err).slice(0, 300) }] };
    }
    const { batch, rejections } = decoded;
    const accepted = batch.samples.length + batch.events.length;
    if (rejections.length > 0) {
      st.countRejections(rejections);
      try {
        this.deadLetters.record({ receivedAt, topic, rejections, accepted, excerpt: payloadExcerpt(payload) });
      } catch {
        // The dead-letter log is diagnostics; failing to write it (disk full) must not block good data.
        st.deadLetterErrors++;
      }
    }
    if (accepted === 0) {
      st.messagesRejected++;
      return;
    }
    st.messagesAccepted++;
    let readings = 0;
    for (const s of batch.samples) for (const _ in s.values) readings++;
    st.readingsAccepted += readings;
    st.eventsAccepted += batch.events.length;
    st.readingRate.add(readings, receivedAt);
    return this.sink.accept(batch, { topic, payload, receivedAt });
  }
}
