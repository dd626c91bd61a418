import { createSecretKey, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { FrameError, readBody, type Frame, type InspectedFrame } from './wire.js';

/**
 * The thread's code: the checksum and the signature of a frame over its own copy of the bytes,
 * hashed in place. CommonJS given as source, so it runs the same from src/ (tests) and dist/.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash, createHmac, timingSafeEqual } = require('node:crypto');
let key = null;
parentPort.on('message', (m) => {
  if (m.key) return void (key = m.key);
  const buf = Buffer.from(m.bytes);
  const end = m.signedEnd;
  let verdict = 'ok';
  if (!timingSafeEqual(createHash('sha256').update(buf.subarray(0, end)).digest(), buf.subarray(end, end + 32))) verdict = 'corrupt';
  else if (m.signed && !timingSafeEqual(createHmac('sha256', key).update(buf.subarray(0, end + 32)).digest(), buf.subarray(end + 32, end + 64)))
    verdict = 'bad-signature';
  parentPort.postMessage({ id: m.id, verdict, bytes: m.bytes }, [m.bytes]);
});`;

interface Waiting {
  frame: InspectedFrame;
  resolve: (f: Frame) => void;
  reject: (err: Error) => void;
  bytes: number;
}

/**
 * Verifies inspected frames off the event loop, on a thread of its own: a copy of each frame moves
 * there and back (no further copies: it is hashed in place), in arrival order. At most
 * `maxQueuedBytes` of frames wait; past that a frame is refused as `busy`, so a flood of large frames
 * can neither stall the loop that serves MQTT and HTTP nor hold an unbounded number of them in
 * memory. The federation key goes to the thread as a KeyObject: its bytes are in no message.
 */
export class FrameVerifier {
  private worker: Worker | null = null;
  private readonly key: KeyObject;
  private readonly waiting = new Map<number, Waiting>();
  private queuedBytes = 0;
  private nextId = 1;
  /** Frames hashed so far (those the cheap checks refused never are). */
  hashed = 0;

  constructor(
    rawKey: Buffer,
    private readonly maxQueuedBytes: number,
  ) {
    this.key = createSecretKey(rawKey);
  }

  verify(buf: Buffer, f: InspectedFrame): Promise<Frame> {
    if (this.queuedBytes > 0 && this.queuedBytes + buf.length > this.maxQueuedBytes)
      return Promise.reject(
        new FrameError('busy', `${this.queuedBytes} bytes of frames already wait to be verified (at most ${this.maxQueuedBytes})`),
      );
    const worker = this.thread();
    // The thread gets its own copy: the caller's buffer may be shared (a pooled slab, another listener).
    const bytes = new ArrayBuffer(buf.length);
    new Uint8Array(bytes).set(buf);
    const id = this.nextId++;
    this.queuedBytes += buf.length;
    this.hashed++;
    return new Promise<Frame>((resolve, reject) => {
      this.waiting.set(id, { frame: f, resolve, reject, bytes: buf.length });
      worker.postMessage({ id, bytes, signedEnd: f.signedEnd, signed: f.header !== null }, [bytes]);
    });
  }

  /** Frames waiting or being verified. */
  get pending(): number {
    return this.waiting.size;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.postMessage({ key: this.key });
    worker.on('message', (m: { id: number; verdict: 'ok' | 'corrupt' | 'bad-signature'; bytes: ArrayBuffer }) => this.settle(m));
    // A thread that dies fails what it held; the next frame starts a new one.
    const dead = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        this.queuedBytes -= w.bytes;
        w.reject(new FrameError('busy', `the verifying thread ${why}`));
      }
    };
    worker.on('error', (err) => dead(`failed: ${err.message}`));
    worker.on('exit', (code) => dead(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private settle(m: { id: number; verdict: 'ok' | 'corrupt' | 'bad-signature'; bytes: ArrayBuffer }): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    this.queuedBytes -= w.bytes;
    const f = w.frame;
    if (m.verdict === 'corrupt') return w.reject(new FrameError('corrupt', 'checksum mismatch: the message was damaged'));
    // Undamaged, yet its header is not one: refused for the header, not as forged.
    if (!f.header) return w.reject(f.problem!);
    if (m.verdict === 'bad-signature')
      return w.reject(new FrameError('bad-signature', 'signature does not match the federation key: refused as forged'));
    try {
      w.resolve({ header: f.header, body: readBody(Buffer.from(m.bytes), f) });
    } catch (err) {
      w.reject(err as Error);
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    for (const w of this.waiting.values()) w.reject(new FrameError('busy', 'the federation is stopping'));
    this.waiting.clear();
    this.queuedBytes = 0;
    if (worker) await worker.terminate();
  }
}
