/**
 * npm run bench:ingest [-- --store influx|sqlite|both --messages N --rate R --seconds S]
 *
 * Messages of 14 sensor values at QoS 1 through a real Mosquitto into the store, journal on, with
 * the publisher in a child process. Prints sustained msgs/s and readings/s (publish of the first
 * message → commit of the last), p50/p99 publish→stored latency at a fixed rate, and the daemon's
 * peak RSS. Figures only; nothing here asserts on time.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { validateConfig } from '../src/vigil-config.js';
import { createLogger } from '../src/core/logger.js';
import { Daemon } from '../src/main.js';
import type { CommitInfo } from '../src/journal/batch-writer.js';
import { publisherProcess } from './lib/publisher-process.js';
import { ensureDebianPackages, freePort, startInfluxd, startMosquitto, type ManagedService } from './lib/services.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    messages: { type: 'string', default: '300000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
    machines: { type: 'string', default: '50' },
  },
});
const SENSORS = 14;
const MACHINES = Number(args.machines);

const publisher = publisherProcess;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runFor(kind: 'influx' | 'sqlite', mosquitto: ManagedService, influx: ManagedService | null): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-'));
  const config = validateConfig(
    {
      dataDir,
      log: { level: 'warn' },
      http: { port: await freePort() },
      mqtt: { url: mosquitto.url, clientId: `vigil-bench-${kind}-${Date.now()}` },
      ...(process.env.BENCH_CONFIG ? JSON.parse(process.env.BENCH_CONFIG) : {}),
      store: kind === 'influx' ? { kind, influx: { url: influx!.url, database: `bench_${Date.now()}` } } : { kind },
    },
    { cwd: process.cwd(), origin: 'bench' },
  );
  const daemon = new Daemon(config, createLogger({ level: 'warn' }));
  await daemon.start();
  while (!daemon.readiness().ready) await new Promise((r) => setTimeout(r, 50));

  const idleRss = process.memoryUsage().rss;
  let peakRss = 0;
  let peakPending = 0;
  let peakHeap = 0;
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakPending = Math.max(peakPending, daemon.stages.journal.writer.stats.pendingSamples);
  }, 50);
  let stored = 0;
  let lastCommitAt = 0;
  let latencies: number[] | null = null;
  daemon.stages.journal.writer.on('commit', (c: CommitInfo) => {
    stored += c.samples;
    lastCommitAt = c.committedAt;
    // One sample per message here, so each record's latest sample time is its publish time.
    if (latencies) for (const ts of c.latestTs) latencies.push(c.committedAt - ts);
  });

  // Phase 1: sustained throughput, publisher as fast as the broker accepts.
  const total = Number(args.messages);
  const p1 = publisher({
    url: mosquitto.url,
    machines: MACHINES,
    count: total,
    rate: 0,
    sensors: SENSORS,
    qos: 1,
    startTs: Date.now() - 86_400_000,
  });
  const t0 = await p1.started;
  const r1 = await p1.done;
  while (stored < total) await new Promise((r) => setTimeout(r, 20));
  const seconds = (lastCommitAt - t0) / 1000;
  const rate = total / seconds;
  const phase1Rss = peakRss;
  peakRss = 0;
  console.log(
    `[${kind}] sustained: ${rate.toFixed(0)} msgs/s, ${(rate * SENSORS).toFixed(0)} readings/s (${total} msgs in ${seconds.toFixed(2)} s; publisher alone ${(total / ((r1.finishedAt - r1.startedAt) / 1000)).toFixed(0)} msgs/s)`,
  );

  // Phase 2: latency at a fixed rate; ts = publish time.
  const fixedRate = Number(args.rate);
  const count = fixedRate * Number(args.seconds);
  latencies = [];
  const before = stored;
  const p2 = publisher({
    url: mosquitto.url,
    machines: MACHINES,
    count,
    rate: fixedRate,
    sensors: SENSORS,
    qos: 1,
    startTs: 0,
    stampWithPublishTime: true,
  });
  const r2 = await p2.done;
  while (stored < before + count) await new Promise((r) => setTimeout(r, 20));
  const lat = Float64Array.from(latencies).sort();
  const achieved = count / ((r2.finishedAt - r2.startedAt) / 1000);
  console.log(
    `[${kind}] latency at ${fixedRate} msgs/s (achieved ${achieved.toFixed(0)}): p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms, max ${lat[lat.length - 1]!.toFixed(0)} ms over ${lat.length} msgs`,
  );

  clearInterval(rssTimer);
  const st = daemon.status();
  const lost = total + count - st.store.samplesStored;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  console.log(
    `[${kind}] peak RSS ${mb(Math.max(phase1Rss, peakRss))}: ${mb(phase1Rss)} at full speed, ${mb(peakRss)} at ${fixedRate} msgs/s (idle ${mb(idleRss)}, peak heap ${mb(peakHeap)}, peak pending ${peakPending} msgs); readings stored ${st.store.readingsStored}, lost ${lost * SENSORS}, journal depth ${st.journal.depth}`,
  );
  await daemon.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

ensureDebianPackages();
const mosquitto = await startMosquitto();
const stores = args.store === 'both' ? (['influx', 'sqlite'] as const) : [args.store as 'influx' | 'sqlite'];
const influx = stores.includes('influx') ? await startInfluxd() : null;
console.log(`bench:ingest — ${SENSORS} sensors/msg, ${MACHINES} machines, QoS 1 via Mosquitto, journal on, node ${process.version}`);
try {
  for (const kind of stores) await runFor(kind, mosquitto, influx);
} finally {
  await mosquitto.dispose();
  await influx?.dispose();
}
