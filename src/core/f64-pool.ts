/**
 * Many small float64 arrays in shared slabs. A gateway keeps a few dozen numbers per machine for
 * tens of thousands of machines; as one Float64Array each, the typed array and its ArrayBuffer cost
 * about 180 bytes beyond the numbers themselves, and an array in the JS heap would count against
 * V8's heap limit. Here an array is a handle into a slab (outside the JS heap); freed blocks are
 * reused by size class, and a slab none of whose blocks is in use any more is given back.
 */
const SHIFT = 16;
const SLAB = 1 << SHIFT;
const MASK = SLAB - 1;
const GONE = new Float64Array(0);

/** Block sizes: multiples of 8 numbers up to 256, of 256 beyond (a full window of 14 sensors is about 1,500). */
function sizeClass(n: number): number {
  if (n <= 256) return Math.max(8, Math.ceil(n / 8) * 8);
  return Math.ceil(n / 256) * 256;
}

export class Float64Pool {
  readonly slabs: Float64Array[] = [];
  /** Numbers in use per slab. */
  private readonly live: number[] = [];
  private readonly free = new Map<number, number[]>();
  /** The slab blocks are cut from, and how much of it is used. */
  private current = -1;
  private used = SLAB;

  /** A block of at least `n` numbers, zeroed; returns its handle. */
  alloc(n: number): number {
    const size = sizeClass(n);
    const reuse = this.free.get(size)?.pop();
    if (reuse !== undefined) {
      this.slab(reuse).fill(0, this.offset(reuse), this.offset(reuse) + size);
      this.live[this.index(reuse)]! += size;
      return reuse;
    }
    if (size > SLAB) {
      // Larger than a slab (a machine with very many sensors): a slab of its own.
      this.slabs.push(new Float64Array(size));
      this.live.push(size);
      return (this.slabs.length - 1) * SLAB;
    }
    if (this.used + size > SLAB) {
      this.slabs.push(new Float64Array(SLAB));
      this.live.push(0);
      this.current = this.slabs.length - 1;
      this.used = 0;
    }
    const h = this.current * SLAB + this.used;
    this.used += size;
    this.live[this.current]! += size;
    return h;
  }

  /** Gives a block back (its size as asked for at alloc). */
  release(h: number, n: number): void {
    const size = sizeClass(n);
    const i = this.index(h);
    this.live[i]! -= size;
    if (this.live[i] === 0 && i !== this.current) {
      this.dropSlab(i);
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(h);
  }

  /** A slab whose blocks are all free goes back to the allocator, and its blocks off the free lists. */
  private dropSlab(i: number): void {
    this.slabs[i] = GONE;
    for (const [size, list] of this.free) {
      const kept = list.filter((h) => this.index(h) !== i);
      if (kept.length === 0) this.free.delete(size);
      else if (kept.length !== list.length) this.free.set(size, kept);
    }
  }

  private index(h: number): number {
    return Math.floor(h / SLAB);
  }

  /** The slab holding a block; the block starts at `offset(h)` in it. */
  slab(h: number): Float64Array {
    return this.slabs[this.index(h)]!;
  }

  offset(h: number): number {
    return h & MASK;
  }

  /** Bytes of slabs held (blocks in use and free ones). */
  get bytes(): number {
    return this.slabs.reduce((n, s) => n + s.byteLength, 0);
  }
}
