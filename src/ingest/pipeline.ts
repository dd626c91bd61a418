import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { BatchSink, IngestBatch } from '../core/types.js';
import { payloadExcerpt, type DeadLetterSink } from '../core/dead-letter.js';
import type { MessageDecoder } from './decoder.js';
import type { FleetCap } from './fleet-cap.js';
import type { IngestStats } from './stats.js';

/** At most one machine_limit dead letter per this long: a fleet over its cap must not write one per message. */
const CAP_LETTER_INTERVAL_MS = 1000;

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
    private readonly fleet?: FleetCap,
  ) {}

  private lastCapLetterAt = -Infinity;

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
      decoded = {
        batch: { samples: [], events: [] },
        rejections: [{ reason: 'internal_error' as const, detail: errorMessage(err).slice(0, 300) }],
      };
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
      // A message of only protocol state (a Sparkplug DEATH) is not refused: it carries no readings.
      if (rejections.length > 0) st.messagesRejected++;
      else st.messagesControl++;
      return;
    }
    st.messagesAccepted++;
    let readings = 0;
    for (const s of batch.samples) for (const _ in s.values) readings++;
    st.readingsAccepted += readings;
    st.eventsAccepted += batch.events.length;
    st.readingRate.add(readings, receivedAt);
    if (this.fleet) this.admit(batch, topic, payload, receivedAt);
    return this.sink.accept(batch, { topic, payload: decoded.journalPayload ?? payload, receivedAt });
  }

  /** Machines beyond ingest.maxMachines: their data is stored all the same, but not scored or watched. */
  private admit(batch: IngestBatch, topic: string, payload: Uint8Array, receivedAt: number): void {
    const fleet = this.fleet!;
    let over: string | null = null;
    for (const s of batch.samples) if (!fleet.admit(s.machine.machine)) over ??= s.machine.machine;
    for (const e of batch.events) if (!fleet.admit(e.machine.machine)) over ??= e.machine.machine;
    if (over === null) return;
    fleet.stats.untrackedMessages++;
    const rejection = {
      reason: 'machine_limit' as const,
      detail: `machine ${over} is beyond ingest.maxMachines (${fleet.max} tracked): stored, not scored or watched`,
    };
    this.stats.countRejections([rejection]);
    if (receivedAt - this.lastCapLetterAt < CAP_LETTER_INTERVAL_MS) return;
    this.lastCapLetterAt = receivedAt;
    try {
      this.deadLetters.record({
        receivedAt,
        topic,
        rejections: [rejection],
        accepted: batch.samples.length + batch.events.length,
        excerpt: payloadExcerpt(payload),
      });
    } catch {
      this.stats.deadLetterErrors++;
    }
  }
}
