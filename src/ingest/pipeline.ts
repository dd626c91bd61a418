import type { Clock } from '../core/clock.js';
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
    st.messageRate.add();
    const receivedAt = this.clock.now();
    const { batch, rejections } = this.decoder.decode(topic, payload, receivedAt);
    const accepted = batch.samples.length + batch.events.length;
    if (rejections.length > 0) {
      st.countRejections(rejections);
      this.deadLetters.record({ receivedAt, topic, rejections, accepted, excerpt: payloadExcerpt(payload) });
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
    st.readingRate.add(readings);
    return this.sink.accept(batch);
  }
}
