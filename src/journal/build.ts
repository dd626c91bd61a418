import type { JournalConfig, WriterConfig } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { SensorStore } from '../core/sensor-store.js';
import { BatchWriter } from './batch-writer.js';
import { DurableQueue } from './durable-queue.js';
import type { MessageDecode } from './journal-codec.js';
import { Journal } from './journal.js';
import { journalReport, storeReport } from './report.js';

export interface JournalStage {
  journal: Journal;
  writer: BatchWriter;
  /** Where accepted batches go first: acknowledged once they are in the journal. */
  queue: DurableQueue;
}

/**
 * The write-ahead journal and the writer that commits it to the store. What the last run journalled
 * but did not commit is read back first. At stop, the writer gets what is left of the shutdown time
 * to commit; the rest stays in the journal for the next start.
 */
export function buildJournal(
  config: { journal: JournalConfig; writer: WriterConfig; store: { kind: 'sqlite' | 'influx' } },
  d: { store: SensorStore; decodeMessage: MessageDecode },
  life: Lifecycle,
): JournalStage {
  const { clock, log } = life;
  const j = config.journal;
  const w = config.writer;
  const journal = Journal.open(
    { dir: j.dir, maxBytes: j.maxBytes, segmentBytes: j.segmentBytes, fsyncIntervalMs: j.fsyncInterval, decodeMessage: d.decodeMessage },
    clock,
    log.child({ component: 'journal' }),
  );
  life.release('journal', () => journal.close());
  const writer = new BatchWriter(d.store, journal, clock, log.child({ component: 'writer' }), {
    batchSize: w.batchSize,
    flushIntervalMs: w.flushInterval,
    maxPendingSamples: w.maxPendingSamples,
    maxPendingBytes: w.maxPendingBytes,
    retryInitialMs: w.retryInitial,
    retryMaxMs: w.retryMax,
  });
  if (journal.stats.depth > 0) log.info({ records: journal.stats.depth }, 'committing what the last run left in the journal');
  writer.resumeFromJournal();
  writer.start();
  life.release('writer', async () => {
    const flushed = await writer.flush(Math.max(0, Math.min(life.deadline.left(), 2 ** 31 - 1) - 1000));
    if (!flushed)
      log.warn(
        { pendingSamples: writer.stats.pendingSamples },
        'store did not take everything before shutdown; the rest stays in the journal',
      );
    writer.stop();
  });
  const queue = new DurableQueue(journal, writer, clock, log.child({ component: 'queue' }));
  // Before anything upstream stops: a message held back by backpressure must not keep it waiting.
  life.release('queue', () => queue.close());
  life.report(storeReport(config.store.kind, writer), journalReport(journal, writer, queue, j.maxBytes));
  return { journal, writer, queue };
}
