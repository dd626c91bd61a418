/** What a batch of acknowledgements makes durable before it lets them go (the journal, in the daemon). */
export interface AckBatch {
  begin(): void;
  /** Makes everything the batch acknowledges durable, or throws. */
  end(): void;
  /** Messages at most in one batch (default 512). */
  maxMessages?: number;
  /**
   * Messages handled per turn of the event loop (default 64), on Vigil's PUBLISH path: past it the
   * socket is paused until the next turn, so that a broker with a backlog cannot keep timers and
   * HTTP waiting for long.
   */
  maxMessagesPerTurn?: number;
}

/** How the connection holds acknowledgements back and lets them go, or is dropped when a batch fails. */
export interface AckOutlet {
  /** A batch opens: acknowledgements from now on are held (mqtt.js's path corks the socket). */
  hold?(): void;
  /** The batch is durable: its acknowledgements go out, in one write. */
  release(): void;
  /** `end()` failed: the acknowledgements are not sent and the connection is dropped, so the broker redelivers. */
  fail(err: unknown, messages: number): void;
}

/**
 * Gathers the acknowledgements of the messages handled in one turn of the event loop (libuv reads a
 * busy socket several times per turn; mqtt.js handles the packets of one read on process.nextTick)
 * behind one durable write: the batch opens with the first message, closes at setImmediate or after
 * `maxMessages`, and only then are its acknowledgements released. Under a flood a turn can hold tens
 * of thousands of messages, each with its acknowledgement and journal record held in memory until
 * the end: long enough to be promoted to V8's old generation, hence the cap. Both ways messages are
 * read (Vigil's PUBLISH path and mqtt.js's) use this one batcher.
 */
export class AckBatcher {
  private open = false;
  private messages = 0;
  private closeScheduled = false;

  constructor(
    private readonly batch: AckBatch,
    private readonly outlet: AckOutlet,
    /** Runs at each turn's end after the batch closed (the PUBLISH path resumes reading there). */
    private readonly onTurnEnd?: () => void,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** Before a message is handled: its journal record and acknowledgement belong to the open batch. */
  enter(): void {
    if (this.open) return;
    this.open = true;
    this.messages = 0;
    this.outlet.hold?.();
    this.batch.begin();
    this.scheduleTurnEnd();
  }

  /** After a message was handled; false when the batch reached its cap, closed, and that failed. */
  counted(): boolean {
    if (++this.messages >= (this.batch.maxMessages ?? 512)) return this.close();
    return true;
  }

  /** Closes the open batch now (before a message that must wait, or a QoS 2 handshake). */
  close(): boolean {
    if (!this.open) return true;
    this.open = false;
    try {
      this.batch.end();
    } catch (err) {
      const messages = this.messages;
      this.messages = 0;
      this.outlet.fail(err, messages);
      return false;
    }
    this.outlet.release();
    return true;
  }

  /** Makes sure the end of this turn is seen (also when no batch is open any more). */
  scheduleTurnEnd(): void {
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    setImmediate(this.turnEnd);
  }

  private readonly turnEnd = (): void => {
    this.closeScheduled = false;
    // Also after the connection is gone: the batch's journal records are still made durable.
    this.close();
    this.onTurnEnd?.();
  };
}
