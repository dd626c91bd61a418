/**
 * Bounds the password checks under way at once. Each scrypt check takes about 16 MiB and a libuv
 * thread for tens of milliseconds; unbounded, a burst of logins (or of guesses) fills the thread pool
 * that the journal's fsyncs and DNS also use, and the memory with it. Checks beyond `concurrency`
 * wait in a queue of at most `maxQueued`; past that a login is refused at once (the client retries).
 */
export class LoginGate {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  /** Logins refused because the queue was full. */
  refused = 0;

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** Runs `check` when a slot is free; null, without running it, when the queue is full. */
  async run<T>(check: () => Promise<T>): Promise<T | null> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueued) {
        this.refused++;
        return null;
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.running++;
    try {
      return await check();
    } finally {
      // The slot passes straight to the next in line, or is freed.
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  get queued(): number {
    return this.queue.length;
  }
}
