/**
 * npm run bench:stall [-- --rate 40000 --seconds 40 --lock-at 5 --lock-seconds 25 --sensors 8 --journal 16MiB]
 *
 * Another process holds an exclusive lock on the embedded store's sensors.db for a while (a backup,
 * a `sqlite3` shell) while a publisher sends QoS 1 messages at a fixed rate through Mosquitto
 * configured with the deploy kit's queue limits (deploy/mosquitto/vigil.conf) into `vigil start`
 * (a child process, production flags) with a small journal cap. Prints the daemon's event-loop lag
 * and /api/v1/status latency during the run, what the broker acknowledged to the publisher against
 * what reached the store (readings lost end to end), and how long it took to catch up.
 * Figures only; nothing here asserts on time.
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { startVigil } from './lib/contender.js';
import { publisherProcess } from './lib/publisher-process.js';
import { ensureDebianPackages, startMosquitto } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '40000' },
    seconds: { type: 'string', default: '40' },
    'lock-at': { type: 'string', default: '5' },
    'lock-seconds': { type: 'string', default: '25' },
    sensors: { type: 'string', default: '8' },
    machines: { type: 'string', default: '50' },
    journal: { type: 'string', default: '16MiB' },
    /** Mosquitto queue limits other than the deploy kit's, e.g. "max_queued_messages 1000000". */
    queue: { type: 'string' },
  },
});
const RATE = Number(args.rate);
const TOTAL = RATE * Number(args.seconds);
const SENSORS = Number(args.sensors);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// The broker limits exactly as the deploy kit documents them.
const deployConf = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/mosquitto/vigil.conf'), 'utf8');
const queueLimits =
  args.queue ??
  deployConf
    .split('\n')
    .filter((l) => /^(max_queued_messages|max_queued_bytes|max_inflight_messages)\s/.test(l))
    .join('\n');

ensureDebianPackages();
const mosquitto = await startMosquitto({ queueLimits });
const work = mkdtempSync(path.join(tmpdir(), 'vigil-stall-'));
const vigil = await startVigil({
  dir: work,
  mqttUrl: mosquitto.url,
  store: { kind: 'sqlite' },
  overrides: { journal: { maxBytes: args.journal } },
});
try {
  await fetch(`${vigil.http}/api/v1/status`);
  const lagP99: number[] = [];
  const lagMax: number[] = [];
  const latencies: number[] = [];
  let stored = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      try {
        const s = (await (await fetch(`${vigil.http}/api/v1/status`, { signal: AbortSignal.timeout(10_000) })).json()) as {
          store: { readingsStored: number };
          scoring: { eventLoopLagMs: { p99: number; max: number } };
          journal: { backpressure: boolean };
        };
        latencies.push(performance.now() - t0);
        lagP99.push(s.scoring.eventLoopLagMs.p99);
        lagMax.push(s.scoring.eventLoopLagMs.max);
        stored = s.store.readingsStored;
      } catch {
        latencies.push(performance.now() - t0);
      }
      await sleep(200);
    }
  })();
  const pub = publisherProcess({
    url: mosquitto.url,
    machines: Number(args.machines),
    count: TOTAL,
    rate: RATE,
    sensors: SENSORS,
    qos: 1,
    startTs: Date.now() - 3_600_000,
    clientId: 'pub-stall',
    client: 'raw',
  });
  const t0 = await pub.started;
  await sleep(Number(args['lock-at']) * 1000);
  // The lock: another connection's exclusive transaction, as a backup or a sqlite3 shell holds it.
  const locker = new Database(path.join(work, 'data', 'sensors.db'), { timeout: 60_000 });
  locker.exec('BEGIN EXCLUSIVE');
  const lockedAt = Date.now();
  await sleep(Number(args['lock-seconds']) * 1000);
  locker.exec('COMMIT');
  locker.close();
  const releasedAt = Date.now();
  const published = await pub.done;
  // Until everything the broker acknowledged is stored, or nothing moves for 60 s.
  let last = -1;
  let lastChange = Date.now();
  while (stored < published.acked * SENSORS && Date.now() - lastChange < 60_000) {
    if (stored !== last) {
      last = stored;
      lastChange = Date.now();
    }
    await sleep(500);
  }
  const caughtUpAt = Date.now();
  polling = false;
  await poller;
  const db = new Database(path.join(work, 'data', 'sensors.db'), { readonly: true });
  const readings = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  db.close();
  console.log(
    `sensors.db locked ${((releasedAt - lockedAt) / 1000).toFixed(1)} s while publishing ${TOTAL} messages (${SENSORS} sensors) at ${RATE} msgs/s, journal cap ${args.journal}, Mosquitto: ${queueLimits.replaceAll('\n', ', ')}`,
  );
  console.log(
    `publisher: ${published.acked} acknowledged by Mosquitto, ${published.failed} failed; store: ${readings} readings = ${readings / SENSORS} messages; lost end to end ${published.acked * SENSORS - readings} readings; ` +
      (readings >= published.acked * SENSORS
        ? `caught up ${((caughtUpAt - releasedAt) / 1000).toFixed(1)} s after the lock was released (${((caughtUpAt - t0) / 1000).toFixed(1)} s after the first message)`
        : 'the store stopped short of what was acknowledged'),
  );
  console.log(
    `daemon: event-loop lag p99 ≤ ${Math.max(...lagP99).toFixed(1)} ms, max ${Math.max(...lagMax).toFixed(1)} ms (the highest of the daemon's per-minute figures); ` +
      `/api/v1/status p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms over ${latencies.length} polls; peak RSS ${(vigil.peakRss() / 2 ** 20).toFixed(0)} MB`,
  );
} finally {
  await vigil.stop();
  await mosquitto.dispose();
  rmSync(work, { recursive: true, force: true });
}
