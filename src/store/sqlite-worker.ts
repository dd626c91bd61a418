/**
 * The thread that owns the embedded sensor database. better-sqlite3 is synchronous: a commit of
 * thousands of readings, a query over a month, or a lock held by another process (a backup, a
 * `sqlite3` shell) blocks the thread that calls it — here, never the event loop that serves MQTT and
 * HTTP. One request at a time, in order; the daemon runs one such thread for writes and one for
 * queries (see SqliteWorkerStore for the other side).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteSensorStore } from './sqlite-store.js';
import type { SqliteRequest, SqliteReply } from './sqlite-worker-store.js';

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const store = new SqliteSensorStore(file, { busyTimeoutMs });

async function handle(req: SqliteRequest): Promise<unknown> {
  switch (req.op) {
    case 'open':
      return store.open();
    case 'write':
      return store.writeBinary(new Uint8Array(req.bytes));
    case 'queryReadings':
      return store.queryReadings(req.query);
    case 'aggregateReadings':
      return store.aggregateReadings(req.query, req.everyMs);
    case 'queryEvents':
      return store.queryEvents(req.query);
    case 'listMachines':
      return store.listMachines();
    case 'health':
      return store.health();
    case 'close':
      return store.close();
  }
}

parentPort!.on('message', (req: SqliteRequest) => {
  handle(req).then(
    (value) => parentPort!.postMessage({ id: req.id, ok: true, value } satisfies SqliteReply),
    (err: unknown) => {
      const e = err as { message?: string; code?: unknown };
      parentPort!.postMessage({
        id: req.id,
        ok: false,
        message: e?.message ?? String(err),
        code: typeof e?.code === 'string' ? e.code : undefined,
      } satisfies SqliteReply);
    },
  );
});
