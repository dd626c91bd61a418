import { errorMessage } from '../core/errors.js';
import { AckBatcher, type AckBatch } from './fastpath/ack-batcher.js';
import { topicMatchesFilter } from './topics.js';

/** One message in: a plant signal, or telemetry/events for the pipeline; a promise when it must wait (backpressure). */
export type MessageHandler = (topic: string, payload: Buffer) => void | Promise<void>;

/** The broker's go-ahead for one publish: without an error it acknowledges and forwards it; with one it drops the connection unacknowledged. */
export type PublishCallback = (err?: Error | null) => void;

export interface IntakeStats {
  /** Messages Vigil took at the embedded broker itself (their PUBACK waited for the journal). */
  messages: number;
  /** Publishes refused (connection dropped, nothing acknowledged) because ingest was stopping or its journal write failed. */
  refused: number;
  /** Publishes waiting for the daemon to finish starting. */
  waiting: number;
}

/** Publishes (and their payload bytes) held while the daemon starts; past either the publisher is dropped and sends again later. */
export const MAX_WAITING = 10_000;
export const MAX_WAITING_BYTES = 64 * 1024 * 1024;

/**
 * Vigil's ingest inside the embedded broker: a publish on a topic Vigil ingests is handed to the
 * pipeline from the broker's authorizePublish hook, and the broker is told to go on (acknowledge
 * it, then forward it to other subscribers) only once the journal holds it. So on the default
 * setup too, a PUBACK means journalled: a SIGKILL between the two cannot lose an acknowledged
 * reading. The hooks of one turn of the event loop share one journal write, as on the MQTT
 * client's path (AckBatcher). Until the daemon runs, publishes wait (their clients' sockets are not
 * read meanwhile); once ingest stops, they are refused and stay with their publishers.
 */
export class BrokerIntake {
  readonly stats: IntakeStats = { messages: 0, refused: 0, waiting: 0 };
  private state: 'starting' | 'open' | 'closed' = 'starting';
  private readonly waiting: Array<{ topic: string; payload: Buffer; done: PublishCallback }> = [];
  private waitingBytes = 0;
  /** Go-aheads of the open batch, given once its journal records are written. */
  private held: PublishCallback[] = [];
  private readonly batcher: AckBatcher | null;

  constructor(
    private readonly filters: readonly string[],
    private readonly handle: MessageHandler,
    ackBatch: AckBatch | undefined,
  ) {
    this.batcher = ackBatch
      ? new AckBatcher(ackBatch, {
          release: () => this.settle(null),
          fail: (err) => this.settle(err instanceof Error ? err : new Error(String(err))),
        })
      : null;
  }

  /** Whether Vigil ingests this topic (then the broker hands it here before acknowledging it). */
  takes(topic: string): boolean {
    for (const f of this.filters) if (topicMatchesFilter(f, topic)) return true;
    return false;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The daemon runs: what waited goes through, in arrival order. */
  open(): void {
    if (this.state !== 'starting') return;
    this.state = 'open';
    const waiting = this.waiting.splice(0);
    this.stats.waiting = 0;
    this.waitingBytes = 0;
    for (const w of waiting) this.accept(w.topic, w.payload, w.done);
  }

  /** Ingest stops: from now on publishes are refused (their publishers keep them and send them again). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const w of this.waiting.splice(0)) this.refuse(w.done);
    this.stats.waiting = 0;
    this.waitingBytes = 0;
    // What the open batch already journalled is made durable and acknowledged.
    this.batcher?.close();
  }

  /** From the broker's authorizePublish hook: `done` is called once the message is durable (or refused). */
  accept(topic: string, payload: Buffer, done: PublishCallback): void {
    if (this.state === 'closed') return this.refuse(done);
    if (this.state === 'starting') {
      if (this.waiting.length >= MAX_WAITING || this.waitingBytes + payload.length > MAX_WAITING_BYTES) return this.refuse(done);
      this.waiting.push({ topic, payload, done });
      this.waitingBytes += payload.length;
      this.stats.waiting = this.waiting.length;
      return;
    }
    this.stats.messages++;
    this.batcher?.enter();
    let pending: void | Promise<void>;
    try {
      pending = this.handle(topic, payload);
    } catch (err) {
      return this.refuse(done, err);
    }
    if (pending) {
      // Appended after a wait: if a batch is open now, its journal write carries this record too.
      pending.then(
        () => this.durable(done),
        (err: unknown) => this.refuse(done, err),
      );
      return;
    }
    this.durable(done);
    this.batcher?.counted();
  }

  /** Its record is appended: acknowledged with the open batch's write, or at once when none is open. */
  private durable(done: PublishCallback): void {
    if (this.batcher?.isOpen) this.held.push(done);
    else done(null);
  }

  private settle(err: Error | null): void {
    const held = this.held;
    this.held = [];
    if (err) this.stats.refused += held.length;
    for (const done of held) done(err);
  }

  private refuse(done: PublishCallback, err?: unknown): void {
    this.stats.refused++;
    done(err instanceof Error ? err : new Error(err === undefined ? 'Vigil is not taking messages now' : errorMessage(err)));
  }
}
