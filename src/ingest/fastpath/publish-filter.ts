import type { Socket } from 'node:net';
import { FrameReader, PubackBuffer, readPublish } from './frames.js';
import { SocketDuplex } from '../socket-duplex.js';
import { AckBatcher, type AckBatch } from './ack-batcher.js';

export interface PublishHandler {
  /** A QoS 0 or 1 message. A promise when it has to wait (backpressure); a throw or rejection leaves it unacknowledged. */
  message(topic: string, payload: Buffer): void | Promise<void>;
  /** The message was not handled; it stays unacknowledged and the broker sends it again. */
  failed(err: unknown, topic: string): void;
  /** `end()` of an acknowledgement batch failed: the connection is dropped with its PUBACKs unsent. */
  batchFailed(err: unknown, messages: number): void;
}

export type { AckBatch } from './ack-batcher.js';

/**
 * Sits between the broker's socket and mqtt.js and takes the QoS 0 and 1 PUBLISH packets out of the
 * stream: they are handled here, and their PUBACKs are written in one buffer per batch of reads
 * after `ackBatch.end()` has made the batch's journal records durable. mqtt.js keeps everything else —
 * connecting, the session, subscriptions, keepalive, QoS 2 and its own publishes — and sees every
 * other packet byte for byte. At full speed mqtt.js's per-message work (a packet object, copies
 * through its buffer list, one `nextTick` per packet, a PUBACK built and written in pieces) cost
 * more than a fifth of ingest; here a message is a view of the bytes read and four bytes of PUBACK.
 */
export class PublishFilter extends SocketDuplex {
  private readonly reader = new FrameReader();
  private readonly acks = new PubackBuffer();
  private readonly batcher: AckBatcher | null;
  /** A message is waiting (backpressure): nothing after it is handled until it settles. */
  private waiting = false;
  /** Messages handled in this turn of the event loop, and whether reading stopped for the rest of it. */
  private turnMessages = 0;
  private yielded = false;

  constructor(
    socket: Socket,
    private readonly handler: PublishHandler,
    private readonly ackBatch?: AckBatch,
  ) {
    super(socket);
    this.batcher = ackBatch
      ? new AckBatcher(
          ackBatch,
          {
            release: () => this.writeAcks(),
            fail: (err, messages) => {
              this.acks.clear();
              this.handler.batchFailed(err, messages);
              this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
            },
          },
          () => this.turnEnded(),
        )
      : null;
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.drainFrames();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  private drainFrames(): void {
    if (this.waiting || this.yielded || this.socket.destroyed) return;
    const perTurn = this.ackBatch?.maxMessagesPerTurn ?? 64;
    for (let frame = this.reader.next(); frame !== null; frame = this.reader.next()) {
      const publish = readPublish(frame);
      if (publish === null || publish.qos === 2) {
        this.push(frame.bytes);
        continue;
      }
      this.batcher?.enter();
      let pending: void | Promise<void>;
      try {
        pending = this.handler.message(publish.topic, publish.payload);
      } catch (err) {
        this.handler.failed(err, publish.topic);
        continue;
      }
      if (pending) {
        // Everything before it is acknowledged now; it and what follows wait until it settles.
        if (!this.closeBatch()) return;
        this.wait(pending, publish.topic, publish.qos === 1 ? publish.messageId : -1);
        return;
      }
      if (publish.qos === 1) this.acks.add(publish.messageId);
      if (this.batcher ? !this.batcher.counted() : !this.closeBatch()) return;
      if (++this.turnMessages >= perTurn) {
        // Enough for this turn: the rest waits (in the reader and the kernel) for the next one.
        this.yielded = true;
        this.socket.pause();
        this.scheduleTurnEnd();
        return;
      }
    }
    // Not MQTT framing: mqtt.js gets the rest and fails the connection with its own protocol error.
    if (this.reader.malformed) {
      this.push(this.reader.rest());
      this.closeBatch();
    }
  }

  private wait(pending: Promise<void>, topic: string, messageId: number): void {
    this.waiting = true;
    this.socket.pause();
    pending
      .then(
        () => {
          if (messageId >= 0 && !this.socket.destroyed) {
            this.acks.add(messageId);
            this.socket.write(this.acks.take()!);
          }
        },
        (err: unknown) => this.handler.failed(err, topic),
      )
      .finally(() => {
        this.waiting = false;
        if (this.socket.destroyed) return;
        this.drainFrames();
        if (!this.waiting && !this.yielded) this.socket.resume();
      });
  }

  /** Without an ack batch (tests, tools) each read's acknowledgements still go out at the turn's end. */
  private scheduleTurnEnd(): void {
    if (this.batcher) this.batcher.scheduleTurnEnd();
    else setImmediate(() => this.turnEnded());
  }

  private turnEnded(): void {
    this.turnMessages = 0;
    if (!this.batcher) this.writeAcks();
    if (!this.yielded) return;
    this.yielded = false;
    if (this.socket.destroyed) return;
    this.drainFrames();
    if (!this.waiting && !this.yielded) this.socket.resume();
  }

  /** Makes the batch durable and sends its PUBACKs; on failure drops the connection instead. */
  private closeBatch(): boolean {
    if (this.batcher) return this.batcher.close();
    this.writeAcks();
    return true;
  }

  private writeAcks(): void {
    const acks = this.acks.take();
    if (acks && !this.socket.destroyed) this.socket.write(acks);
  }

  override _read(): void {
    // Packets are pushed as they arrive; mqtt.js reads far less than the broker sends.
  }
}
