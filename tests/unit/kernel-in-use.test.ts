import { describe, expect, it } from 'vitest';
import { kernelInUse } from '../../src/training/report.js';

describe('what learning.kernel comes to on a machine', () => {
  const probe = (configured: string, native: string | null) => ({ configured, native, reason: native ? null : 'no c++ on PATH' });

  it('auto: native where it built and checked out, else wasm', () => {
    expect(kernelInUse(probe('auto', 'avx2'))).toBe('native');
    expect(kernelInUse(probe('auto', null))).toBe('wasm');
  });

  it('wasm and stock as configured, whatever the native kernels', () => {
    expect(kernelInUse(probe('wasm', 'avx512'))).toBe('wasm');
    expect(kernelInUse(probe('stock', 'avx512'))).toBe('stock');
  });

  it('native required and missing: none, so the status does not claim a kernel training will not get', () => {
    expect(kernelInUse(probe('native', 'neon'))).toBe('native');
    expect(kernelInUse(probe('native', null))).toBeNull();
  });
});
