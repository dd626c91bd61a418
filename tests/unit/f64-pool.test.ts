import { describe, expect, it } from 'vitest';
import { Float64Pool } from '../../src/core/f64-pool.js';

describe('float64 pool', () => {
  it('hands out zeroed, non-overlapping blocks, reuses freed ones by size, gives back slabs left empty, and gives very large ones a slab of their own', () => {
    const pool = new Float64Pool();
    const blocks = Array.from({ length: 5000 }, (_, i) => ({ n: 3 + (i % 70), h: 0 }));
    // Checked in plain loops, one expect per property: 190,000 expect() calls took seconds, and over
    // the test's time limit on a loaded machine.
    let notZeroed = 0;
    for (const b of blocks) {
      b.h = pool.alloc(b.n);
      const d = pool.slab(b.h);
      const o = pool.offset(b.h);
      for (let k = 0; k < b.n; k++) {
        if (d[o + k] !== 0) notZeroed++;
        d[o + k] = b.h + k;
      }
    }
    expect(notZeroed).toBe(0);
    // Nothing written over by a neighbour.
    let overwritten = 0;
    for (const b of blocks) for (let k = 0; k < b.n; k++) if (pool.slab(b.h)[pool.offset(b.h) + k] !== b.h + k) overwritten++;
    expect(overwritten).toBe(0);
    const bytes = pool.bytes;
    expect(bytes).toBeGreaterThan(512 * 1024);
    // Half given back: those blocks are reused, and no new slab is needed for as many again.
    for (const b of blocks.slice(0, 2500)) pool.release(b.h, b.n);
    let reusedNotZeroed = 0;
    for (const b of blocks.slice(0, 2500)) {
      b.h = pool.alloc(b.n);
      if (
        !pool
          .slab(b.h)
          .subarray(pool.offset(b.h), pool.offset(b.h) + b.n)
          .every((v) => v === 0)
      )
        reusedNotZeroed++;
    }
    expect(reusedNotZeroed).toBe(0);
    expect(pool.bytes).toBe(bytes);
    // All given back: only the slab blocks are still cut from is kept.
    for (const b of blocks) pool.release(b.h, b.n);
    expect(pool.bytes).toBe(512 * 1024);
    const huge = pool.alloc(200_000);
    expect(pool.offset(huge)).toBe(0);
    expect(pool.slab(huge).length).toBeGreaterThanOrEqual(200_000);
  });
});
