import type { IngestBatch } from '../../src/core/types.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';

/** A real SQLite store whose writes can be made to fail, to drive the writer's outage handling. */
export class FlakyStore extends SqliteSensorStore {
  down = false;
  writes = 0;
  failures = 0;

  constructor() {
    super(':memory:');
  }

  override async write(batch: IngestBatch): Promise<void> {
    this.writes++;
    if (this.down) {
      this.failures++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:8086');
    }
    await super.write(batch);
  }
}
