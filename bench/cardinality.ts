/**
 * npm run bench:cardinality [-- --machines 100000 --per-machine 10 --sensors 14 --store sqlite|influx|both --heap-mb 192 --config JSON]
 *
 * A fleet of many distinct machine ids, each sending a few messages round-robin (every round touches
 * every machine), through a real Mosquitto into `vigil start` (a child process, production flags) on
 * SQLite and on InfluxDB. Prints sustained msgs/s (first publish → last reading stored), readings
 * lost, the daemon's peak RSS and CPU, /api/v1/status latency polled during the run, event-loop lag,
 * and, once the fleet has gone silent, the alerts that opened and the notifications they queued.
 * Figures only; nothing here asserts on time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { startVigil, type Contender } from './lib/contender.js';
import { Influx } from './lib/influx-client.js';
import { publisherProcess } from './lib/publisher-process.js';
import { ensureDebianPackages, startInfluxd, startMosquitto } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    machines: { type: 'string', default: '100000' },
    'per-machine': { type: 'string', default: '10' },
    sensors: { type: 'string', default: '14' },
    store: { type: 'string', default: 'both' },
    'heap-mb': { type: 'string', default: '192' },
    'silence-seconds': { type: 'string', default: '40' },
    /** More daemon configuration, as JSON merged at the top level (to try other settings). */
    config: { type: 'string', default: '{}' },
  },
});
const MACHINES = Number(args.machines);
const PER_MACHINE = Number(args['per-machine']);
const SENSORS = Number(args.sensors);
const TOTAL = MACHINES * PER_MACHINE;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

interface StatusView {
  ingest: { readingsAccepted: number; machinesTracked: number; untrackedMessages: number };
  store: { readingsStored: number };
  journal: { depth: number };
  scoring: { eventLoopLagMs: { p99: number; max: number } };
  alerts: { deliveries: { pending: number; delivered: number; dead: number } };
}

/** Polls the status endpoint every 200 ms, timing each answer, until stopped. */
function pollStatus(base: string) {
  const latencies: number[] = [];
  const lagP99: number[] = [];
  const lagMax: number[] = [];
  let last: StatusView | null = null;
  let timeouts = 0;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await fetch(`${base}/api/v1/status`, { signal: AbortSignal.timeout(10_000) });
        last = (await r.json()) as StatusView;
        latencies.push(performance.now() - t0);
        lagP99.push(last.scoring.eventLoopLagMs.p99);
        lagMax.push(last.scoring.eventLoopLagMs.max);
      } catch {
        timeouts++;
        latencies.push(performance.now() - t0);
      }
      await sleep(200);
    }
  })();
  return {
    latest: () => last,
    async end() {
      stop = true;
      await done;
      return { latencies, lagP99, lagMax, timeouts };
    },
  };
}

async function run(kind: 'sqlite' | 'influx', mosquittoUrl: string, influxUrl: string | null): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), `vigil-cardinality-${kind}-`));
  const database = `cardinality_${Date.now()}`;
  const store = kind === 'influx' ? { kind, influx: { url: influxUrl!, database } } : { kind };
  const vigil: Contender & { http: string } = await startVigil({
    dir: work,
    mqttUrl: mosquittoUrl,
    store,
    heapMb: Number(args['heap-mb']),
    // Every machine tracked (scored and watched), and silence judged within the run.
    overrides: {
      ingest: { maxMachines: MACHINES },
      alerts: { staleAfter: '20s', sensorStaleAfter: '30s' },
      ...(JSON.parse(args.config) as object),
    },
  });
  try {
    await measure(kind, vigil, work, database, mosquittoUrl, influxUrl);
  } finally {
    await vigil.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function measure(
  kind: 'sqlite' | 'influx',
  vigil: Contender & { http: string },
  work: string,
  database: string,
  mosquittoUrl: string,
  influxUrl: string | null,
): Promise<void> {
  // One request first: the API's first answer includes compiling its serializers.
  await fetch(`${vigil.http}/api/v1/status`);
  const cpu0 = vigil.cpuSeconds();
  const poll = pollStatus(vigil.http);
  const pub = publisherProcess({
    url: mosquittoUrl,
    machines: MACHINES,
    count: TOTAL,
    rate: 0,
    sensors: SENSORS,
    qos: 1,
    startTs: Date.now() - 60_000,
    clientId: `pub-card-${kind}`,
    client: 'raw',
    topicPrefix: 'vigil/bench/fleet',
  });
  const t0 = await pub.started;
  const published = await pub.done;
  // Until everything acknowledged is stored (or nothing moves for 30 s).
  const target = published.acked * SENSORS;
  let stored = 0;
  let lastChange = Date.now();
  let storedAt = Date.now();
  for (;;) {
    const s = poll.latest();
    const now = s?.store.readingsStored ?? 0;
    if (now !== stored) {
      stored = now;
      lastChange = Date.now();
      storedAt = lastChange;
    }
    if ((stored >= target && (s?.journal.depth ?? 1) === 0) || Date.now() - lastChange > 30_000) break;
    await sleep(100);
  }
  const cpu = vigil.cpuSeconds() - cpu0;
  const peakRss = vigil.peakRss() / 2 ** 20;
  const during = await poll.end();
  // Stored as the store itself counts it.
  let counted: number;
  if (kind === 'influx') counted = await new Influx(influxUrl!).readings(database);
  else {
    const db = new Database(path.join(work, 'data', 'sensors.db'), { readonly: true });
    counted = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    db.close();
  }
  const seconds = (storedAt - t0) / 1000;
  console.log(
    `[${kind}] ${MACHINES} machines × ${PER_MACHINE} messages (${SENSORS} sensors): ${published.acked} of ${TOTAL} acknowledged by Mosquitto, ` +
      `${(published.acked / seconds).toFixed(0)} msgs/s sustained (${seconds.toFixed(1)} s to the last reading stored), ` +
      `${counted} readings stored, lost ${published.acked * SENSORS - counted}`,
  );
  console.log(
    `[${kind}] daemon: peak RSS ${peakRss.toFixed(0)} MB, ${cpu.toFixed(1)} CPU-s (${((cpu / TOTAL) * 100_000).toFixed(2)} per 100k msgs); ` +
      `/api/v1/status p50 ${percentile(during.latencies, 50).toFixed(1)} ms, p99 ${percentile(during.latencies, 99).toFixed(1)} ms, max ${Math.max(...during.latencies).toFixed(0)} ms over ${during.latencies.length} polls (${during.timeouts} failed); ` +
      `event-loop lag p99 ≤ ${Math.max(...during.lagP99).toFixed(1)} ms, max ${Math.max(...during.lagMax).toFixed(1)} ms`,
  );
  // The whole fleet now goes silent: one gateway alert, not one per machine.
  await sleep(Number(args['silence-seconds']) * 1000);
  const alerts = (await (await fetch(`${vigil.http}/api/v1/alerts?state=unresolved&limit=500`)).json()) as {
    items: Array<{ kind: string; message: string }>;
  };
  const byKind = new Map<string, number>();
  for (const a of alerts.items) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + 1);
  const status = (await (await fetch(`${vigil.http}/api/v1/status`)).json()) as StatusView;
  const d = status.alerts.deliveries;
  console.log(
    `[${kind}] after ${args['silence-seconds']} s of silence: unresolved alerts ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}` +
      `${alerts.items[0] ? ` ("${alerts.items[0].message}")` : ''}; notifications ${d.pending + d.delivered + d.dead}; machines tracked ${status.ingest.machinesTracked}`,
  );
}

ensureDebianPackages();
const mosquitto = await startMosquitto();
const stores = args.store === 'both' ? (['sqlite', 'influx'] as const) : [args.store as 'sqlite' | 'influx'];
const influxd = stores.includes('influx') ? await startInfluxd() : null;
try {
  for (const kind of stores) await run(kind, mosquitto.url, influxd?.url ?? null);
} finally {
  await Promise.all([mosquitto.dispose(), influxd?.dispose()]);
}
