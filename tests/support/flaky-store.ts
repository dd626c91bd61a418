import type { IngestBatch } from '../../src/core/types.js';
import { StoreRejectedError, type ByteSink, type WriteCounts } from '../../src/core/sensor-store.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';

/** A real SQLite store whose writes can be made to fail, to drive the writer's outage handling. */
export class FlakyStore extends SqliteSensorStore {
  down = false;
  /** Refuse the next write for good, as InfluxDB does on a field type conflict. */
  rejectNext = false;
  writes = 0;
  failures = 0;

  /** Set with `encoded`: the writer queues the store's wire form (as InfluxDB's store does), here JSON lines. */
  encodeInto?: (batch: IngestBatch, out: ByteSink) => number;
  writeEncoded?: (chunks: readonly Uint8Array[]) => Promise<WriteCounts>;
  /** Chunks per encoded write, to see records of one commit joined across slabs. */
  chunkCounts: number[] = [];

  constructor(options: { encoded?: boolean } = {}) {
    super(':memory:');
    if (options.encoded) {
      this.encodeInto = (batch, out) => {
        const bytes = Buffer.from(`${JSON.stringify(batch)}\n`);
        out.reserve(bytes.length);
        bytes.copy(out.buf, out.pos);
        out.pos += bytes.length;
        return bytes.length;
      };
      this.writeEncoded = async (chunks) => {
        this.chunkCounts.push(chunks.length);
        const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
        const batches = lines.map((l) => JSON.parse(l) as IngestBatch);
        return this.write({ samples: batches.flatMap((b) => b.samples), events: batches.flatMap((b) => b.events) });
      };
    }
  }

  override async write(batch: IngestBatch): Promise<WriteCounts> {
    this.writes++;
    if (this.rejectNext) {
      this.rejectNext = false;
      throw new StoreRejectedError('A 400 Bad Request error occurred: {"error":"partial write: field type conflict"}');
    }
    if (this.down) {
      this.failures++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:8086');
    }
    return super.write(batch);
  }
}
