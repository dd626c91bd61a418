import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IngestBatch, Sample } from '../../src/core/types.js';

export function tempDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export const M1 = { site: 'plant', line: 'l1', machine: 'm1' };

export function sample(ts: number, values: Record<string, number> = { a: ts % 1000 }, machine = M1): Sample {
  return { machine, ts, values };
}

export function batchOf(...samples: Sample[]): IngestBatch {
  return { samples, events: [] };
}
