/**
 * npm run bench:vs-nodered [-- --messages N --rate R --seconds S --outage-seconds S (0: skip the outage run) --only Vigil|Node-RED --publisher raw|mqtt.js]
 *
 * Vigil against the Node-RED flow integrators build for the same job (MQTT in → function → join →
 * influxdb batch), each as its own process on the same Mosquitto and InfluxDB, fed the same stream in
 * turn by a publisher in a child process: 14 sensor values per message, 50 machines, unique
 * timestamps, QoS 1. For each: sustained end-to-end msgs/s, publish→stored latency at a fixed rate,
 * CPU seconds per 100k messages, peak RSS, readings lost; then the same fixed rate with InfluxDB
 * killed (SIGKILL) at a third of the run and restarted at two thirds. Stored counts come from
 * InfluxDB itself, the same query for both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installNodeRed, processCpu, startNodeRed, startVigil, type Contender } from './lib/contender.js';
import { Influx } from './lib/influx-client.js';
import { publisherProcess } from './lib/publisher-process.js';
import { ensureDebianPackages, startInfluxd, startMosquitto, type ManagedService } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '300000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    'outage-seconds': { type: 'string', default: '90' },
    only: { type: 'string' },
    // raw: a lean MQTT publisher, so the load generator takes less of the cores the contenders share.
    publisher: { type: 'string', default: 'raw' },
  },
});
const PUBLISHER = args.publisher === 'mqtt.js' ? 'mqtt.js' : 'raw';
const SENSORS = 14;
const MACHINES = 50;

const publisher = publisherProcess;

interface Figures {
  throughput: number;
  cpuPer100k: number;
  peakRssMb: number;
  p50: number;
  p99: number;
  lostSteady: number;
  outage: { published: number; stored: number; lost: number } | null;
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the stored count until it reaches `target` or stops moving for `quietMs`. */
async function waitStored(
  influx: Influx,
  db: string,
  target: number,
  quietMs: number,
  fromTs = 0,
  onSample?: (t: number, n: number) => void,
  pollMs = 200,
): Promise<{ count: number; lastChangeAt: number }> {
  let count = -1;
  let lastChangeAt = Date.now();
  for (;;) {
    const n = await influx.count(db, fromTs).catch(() => count);
    const now = Date.now();
    onSample?.(now, n);
    if (n !== count) {
      count = n;
      lastChangeAt = now;
    }
    if (count >= target || now - lastChangeAt > quietMs) return { count, lastChangeAt };
    await sleep(pollMs);
  }
}

async function steady(
  name: string,
  start: () => Promise<Contender>,
  influx: Influx,
  db: string,
  mosquitto: ManagedService,
  influxd: ManagedService,
): Promise<Omit<Figures, 'outage'>> {
  const contender = await start();
  try {
    const total = Number(args.messages);
    const cpu0 = contender.cpuSeconds();
    const threads0 = contender.threadCpu();
    const services0 = [processCpu(mosquitto.pid()), processCpu(influxd.pid())];
    const p1 = publisher({
      url: mosquitto.url,
      machines: MACHINES,
      count: total,
      rate: 0,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 86_400_000,
      clientId: `pub-${name}-1`,
      client: PUBLISHER,
    });
    const t0 = await p1.started;
    const pub = await p1.done;
    const stored = await waitStored(influx, db, total, 15_000, 0, undefined, 50);
    const cpu = contender.cpuSeconds() - cpu0;
    // Where the host's two cores went: the contender by thread, and everything else on the path.
    const per100k = (seconds: number) => ((seconds / total) * 100_000).toFixed(2);
    const threads = [...contender.threadCpu()]
      .map(([t, c]) => [t, c - (threads0.get(t) ?? 0)] as const)
      .filter(([, c]) => c >= 0.05)
      .sort((a, b) => b[1] - a[1]);
    console.log(`[${name}]   CPU-s per 100k by thread: ${threads.map(([t, c]) => `${t} ${per100k(c)}`).join(', ')}`);
    console.log(
      `[${name}]   others, CPU-s per 100k: publisher ${per100k(pub.cpuSeconds)}, Mosquitto ${per100k(processCpu(mosquitto.pid()) - services0[0]!)}, InfluxDB ${per100k(processCpu(influxd.pid()) - services0[1]!)}`,
    );
    const throughput = stored.count / ((stored.lastChangeAt - t0) / 1000);
    const peakRssMb = contender.peakRss() / 2 ** 20;
    console.log(
      `[${name}] sustained ${throughput.toFixed(0)} msgs/s (${stored.count} of ${total} stored), ${((cpu / total) * 100_000).toFixed(2)} CPU-s per 100k msgs, peak RSS ${peakRssMb.toFixed(0)} MB`,
    );

    // Latency at a fixed rate: each message carries its publish time as its timestamp; the time it
    // was stored is when the stored count (polled every 20 ms) passed its rank.
    const rate = Number(args.rate);
    const count = rate * Number(args.seconds);
    const phaseFrom = Date.now();
    const samples: Array<[number, number]> = [];
    const p2 = publisher({
      url: mosquitto.url,
      machines: MACHINES,
      count,
      rate,
      sensors: SENSORS,
      qos: 1,
      startTs: 0,
      stampWithPublishTime: true,
      clientId: `pub-${name}-2`,
      client: PUBLISHER,
    });
    const sampling = waitStored(influx, db, count, 10_000, phaseFrom, (t, n) => samples.push([t, n]), 20);
    await p2.done;
    const latencyStored = await sampling;
    const published = await influx.times(db, phaseFrom);
    const lat = new Float64Array(published.length);
    let s = 0;
    for (let k = 0; k < published.length; k++) {
      while (s < samples.length - 1 && samples[s]![1] < k + 1) s++;
      lat[k] = samples[s]![0] - published[k]!;
    }
    lat.sort();
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(
      `[${name}] at ${rate} msgs/s: publish→stored p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (${latencyStored.count} of ${count} stored; ±20 ms polling)`,
    );
    return {
      throughput,
      cpuPer100k: (cpu / total) * 100_000,
      peakRssMb,
      p50,
      p99,
      lostSteady: (total - stored.count + count - latencyStored.count) * SENSORS,
    };
  } finally {
    await contender.stop();
  }
}

async function outage(
  name: string,
  start: () => Promise<Contender>,
  influx: Influx,
  influxd: ManagedService,
  db: string,
  mosquitto: ManagedService,
): Promise<Figures['outage']> {
  const contender = await start();
  try {
    const rate = Number(args.rate);
    const seconds = Number(args['outage-seconds']);
    const count = rate * seconds;
    const p = publisher({
      url: mosquitto.url,
      machines: MACHINES,
      count,
      rate,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 86_400_000,
      clientId: `pub-${name}-outage`,
      client: PUBLISHER,
    });
    const t0 = await p.started;
    await sleep(t0 + (seconds / 3) * 1000 - Date.now());
    await influxd.stop({ kill: true });
    console.log(`[${name}] InfluxDB killed at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(t0 + ((2 * seconds) / 3) * 1000 - Date.now());
    await influxd.start();
    console.log(`[${name}] InfluxDB restarted at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = await p.done;
    const stored = await waitStored(influx, db, r.acked, 30_000);
    const lost = (r.acked - stored.count) * SENSORS;
    console.log(`[${name}] outage: ${r.acked * SENSORS} readings published, ${stored.count * SENSORS} stored, ${lost} lost`);
    return { published: r.acked * SENSORS, stored: stored.count * SENSORS, lost };
  } finally {
    await contender.stop();
  }
}

ensureDebianPackages();
const nodeRedInstall = installNodeRed();
const mosquitto = await startMosquitto();
const influxd = await startInfluxd();
const influx = new Influx(influxd.url);
const work = mkdtempSync(path.join(tmpdir(), 'vigil-vs-'));
console.log(
  `bench:vs-nodered — ${SENSORS} sensors/msg, ${MACHINES} machines, QoS 1, Mosquitto 2 and InfluxDB 1.x on this host, node ${process.version}; ` +
    `${args.messages} msgs at full speed, ${args.rate} msgs/s for ${args.seconds} s, outage run ${args['outage-seconds']} s, publisher ${PUBLISHER}`,
);
const results = new Map<string, Figures>();
try {
  const contenders: Array<[string, (db: string) => Promise<Contender>]> = [
    [
      'Vigil',
      (db) =>
        startVigil({
          dir: path.join(work, `vigil-${db}`),
          mqttUrl: mosquitto.url,
          store: { kind: 'influx', influx: { url: influxd.url, database: db } },
        }),
    ],
    [
      'Node-RED',
      (db) =>
        startNodeRed({
          install: nodeRedInstall,
          dir: path.join(work, `nodered-${db}`),
          mqttPort: mosquitto.port,
          influxPort: influxd.port,
          database: db,
          topic: 'vigil/bench/+/+/telemetry',
        }),
    ],
  ];
  for (const [name, start] of contenders) {
    if (args.only && args.only !== name) continue;
    const db = `${name.toLowerCase().replace(/\W/g, '')}_steady`;
    await influx.create(db);
    const s = await steady(name, () => start(db), influx, db, mosquitto, influxd);
    if (Number(args['outage-seconds']) === 0) {
      results.set(name, { ...s, outage: null });
      continue;
    }
    const odb = `${name.toLowerCase().replace(/\W/g, '')}_outage`;
    await influx.create(odb);
    const o = await outage(name, () => start(odb), influx, influxd, odb, mosquitto);
    results.set(name, { ...s, outage: o });
  }
} finally {
  await mosquitto.dispose();
  await influxd.dispose();
  rmSync(work, { recursive: true, force: true });
}

const v = results.get('Vigil');
const n = results.get('Node-RED');
const row = (label: string, f: (x: Figures) => string) =>
  console.log(`${label.padEnd(34)} ${(v ? f(v) : '-').padStart(14)} ${(n ? f(n) : '-').padStart(14)}`);
console.log(`\n${''.padEnd(34)} ${'Vigil'.padStart(14)} ${'Node-RED'.padStart(14)}`);
row('sustained msgs/s', (x) => x.throughput.toFixed(0));
row(`p50 / p99 ms at ${args.rate} msgs/s`, (x) => `${x.p50.toFixed(0)} / ${x.p99.toFixed(0)}`);
row('CPU-s per 100k msgs', (x) => x.cpuPer100k.toFixed(2));
row('peak RSS MB', (x) => x.peakRssMb.toFixed(0));
row('readings lost, InfluxDB up', (x) => String(x.lostSteady));
row('readings lost, InfluxDB down 1/3', (x) => (x.outage ? `${x.outage.lost} of ${x.outage.published}` : '-'));
if (v && n) {
  console.log(
    `\nVigil/Node-RED: throughput ${(v.throughput / n.throughput).toFixed(2)}× (goal ≥ 1.5), CPU per message ${(v.cpuPer100k / n.cpuPer100k).toFixed(2)}× (goal ≤ 0.33), ` +
      `peak RSS ${(v.peakRssMb / n.peakRssMb).toFixed(2)}× (goal ≤ 0.5), p99 ${(v.p99 / n.p99).toFixed(2)}× (goal < 1), loss ${v.lostSteady + (v.outage?.lost ?? 0)} readings (goal 0)`,
  );
}
