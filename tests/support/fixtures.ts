import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IngestBatch, Sample } from '../../src/core/types.js';

const created: string[] = [];

/** A fresh directory under the system's temp dir, removed after the test file (tests/support/cleanup.ts). */
export function tempDir(prefix = 'vigil-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every directory tempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export const M1 = { site: 'plant', line: 'l1', machine: 'm1' };

export function sample(ts: number, values: Record<string, number> = { a: ts % 1000 }, machine = M1): Sample {
  return { machine, ts, values };
}

export function batchOf(...samples: Sample[]): IngestBatch {
  return { samples, events: [] };
}
