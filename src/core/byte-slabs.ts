import type { ByteSink } from './sensor-store.js';

const SLAB_BYTES = 1 << 20;

/**
 * Append-only bytes in slabs; a full slab is left to the records cut from it. Slabs handed back once
 * nothing uses them are written again: each new one is external memory to V8, and allocating tens of
 * megabytes of it a second starts a full collection every few hundred milliseconds.
 */
export class ByteSlabs implements ByteSink {
  buf: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  pos = 0;
  private readonly spare: Buffer[] = [];

  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const reused = this.spare.length > 0 && this.spare[this.spare.length - 1]!.length >= bytes ? this.spare.pop()! : null;
    this.buf = reused ?? Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes));
    this.pos = 0;
  }

  /** A slab no record refers to any more (never the one being written). */
  recycle(slab: Buffer): void {
    if (slab !== this.buf && slab.length === SLAB_BYTES && this.spare.length < 4) this.spare.push(slab);
  }
}
