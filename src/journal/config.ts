import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { Duration, OptionalSize, Size, strict } from '../config/schema-parts.js';

export const JournalSchema = Type.Object(
  {
    dir: Type.Optional(Type.String({ minLength: 1, description: 'relative to dataDir; default journal' })),
    maxBytes: Size('512MiB', { description: 'disk cap: above it Vigil stops acknowledging (backpressure) rather than drop anything' }),
    segmentBytes: Size('8MiB', { description: 'the journal is files of this size, deleted once committed' }),
    fsyncInterval: Duration('100ms', {
      description: 'grouped fsync against power loss (a process crash loses nothing either way); 0 = on every message',
    }),
  },
  { ...strict, description: 'the write-ahead journal: what is acknowledged is here until the store has it' },
);

export const WriterSchema = Type.Object(
  {
    batchSize: Type.Integer({ minimum: 1, default: 5000, description: 'samples per store commit' }),
    flushInterval: Duration('200ms', { minimum: 1, description: 'a commit at least this often while readings wait' }),
    maxPendingSamples: Type.Integer({
      minimum: 1,
      default: 20_000,
      description:
        'samples held in memory for a store that takes objects (none built in: both queue their wire form, budgeted by maxPendingBytes)',
    }),
    maxPendingBytes: OptionalSize(
      "memory for samples waiting for the store in its wire form (InfluxDB's line protocol, SQLite's binary batches); beyond it the backlog is read back from the journal and decoded a second time. Default 32MiB for InfluxDB, whose commits are network round trips; 8MiB for SQLite, a commit away in its own thread",
    ),
    retryInitial: Duration('500ms', { minimum: 1, description: 'while the store is down, retries back off from here to retryMax' }),
    retryMax: Duration('10s', { minimum: 1 }),
  },
  { ...strict, description: 'how the journal is committed to the store: batches, retries, the backlog held in memory' },
);

export type JournalConfig = StaticDecode<typeof JournalSchema> & { dir: string };
export type WriterConfig = Omit<StaticDecode<typeof WriterSchema>, 'maxPendingBytes'> & { maxPendingBytes: number };

/** The journal's directory relative to the data directory (`journal` there by default). */
export function resolveJournal(j: StaticDecode<typeof JournalSchema>, dataDir: string): JournalConfig {
  return { ...j, dir: path.resolve(dataDir, j.dir ?? 'journal') };
}

/** InfluxDB's commits are network round trips: a longer backlog in memory by default than SQLite's. */
export function resolveWriter(w: StaticDecode<typeof WriterSchema>, storeKind: 'sqlite' | 'influx'): WriterConfig {
  return { ...w, maxPendingBytes: w.maxPendingBytes ?? (storeKind === 'influx' ? 32 : 8) * 2 ** 20 };
}

export function checkJournal(j: StaticDecode<typeof JournalSchema>, w: StaticDecode<typeof WriterSchema>, problem: ProblemReport): void {
  if (w.retryInitial > w.retryMax) problem('writer.retryInitial', 'must not exceed writer.retryMax');
  if (j.segmentBytes > j.maxBytes) problem('journal.segmentBytes', 'must not exceed journal.maxBytes');
}
