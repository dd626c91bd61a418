/**
 * npm run bench:soak [-- --minutes N --machines 100]
 *
 * The seeded simulator at plant size (100 machines, 1 message per machine per second, 14 sensors
 * each across the kinds) through Mosquitto into a `vigil start` process on InfluxDB, with scoring,
 * alerts and the energy-aware scheduler training when failures have accumulated. Simulated time runs
 * 600× (one message per machine every 10 simulated minutes), so machines wear out and fail within
 * the run. Every minute: RSS, heap, event-loop lag p99, journal depth, readings stored, alerts
 * against failures. At the end: readings lost (published against stored in InfluxDB) and a linear
 * fit of heap and RSS over the second half; exit code 1 if the heap keeps growing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDebianPackages, freePort, startInfluxd, startMosquitto } from './lib/services.js';

const { values: a } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, machines: { type: 'string', default: '100' } } });
const MINUTES = Number(a.minutes);
const MACHINES = Number(a.machines);
const SPEED = 600;
const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../src/cli.js');

ensureDebianPackages();
const mosquitto = await startMosquitto();
const influxd = await startInfluxd();
const dir = mkdtempSync(path.join(tmpdir(), 'vigil-soak-'));
const http = await freePort();
const database = 'soak';
const perKind = Math.ceil(MACHINES / 3);
const scenario = {
  seed: 7,
  site: 'soak',
  rate: '6/h',
  downtime: '2h',
  machines: ['pump', 'motor', 'gearbox'].map((kind, i) => ({
    kind,
    count: i < 2 ? perKind : MACHINES - 2 * perKind,
    line: `line${i + 1}`,
    onsetDays: 0.6,
    wearDays: 1,
    faultsPerDay: 1,
    regimeHours: 6,
  })),
};
writeFileSync(path.join(dir, 'scenario.yaml'), JSON.stringify(scenario));
writeFileSync(
  path.join(dir, 'vigil.yaml'),
  JSON.stringify({
    dataDir: path.join(dir, 'data'),
    log: { level: 'warn' },
    http: { port: http },
    mqtt: { url: mosquitto.url, clientId: 'vigil-soak' },
    // The fleet runs 600× fast, stamped in the past: in its own time it is live, never backfill.
    ingest: { backfillAge: '3650d' },
    store: { kind: 'influx', influx: { url: influxd.url, database } },
    learning: {
      modelsDir: path.join(dir, 'models'),
      step: '10m',
      window: 12,
      horizon: 12,
      rulCap: 48,
      stride: 2,
      maxGapSteps: 3,
      model: { units: [32, 16], epochs: 15, patience: 4 },
    },
    schedule: {
      cron: '*/15 * * * * *',
      need: { minFailures: 10, minNewFailures: 20, minInterval: '4m' },
      idle: { maxCpu: 1, maxLoadPerCore: 1000 },
    },
  }),
);

const daemon = spawn(
  process.execPath,
  ['--max-old-space-size=256', '--max-semi-space-size=8', CLI, 'start', '-c', path.join(dir, 'vigil.yaml')],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
for (;;) {
  try {
    if ((await fetch(`http://127.0.0.1:${http}/readyz`)).ok) break;
  } catch {
    /* not up yet */
  }
  await new Promise((r) => setTimeout(r, 200));
}

const truthFile = path.join(dir, 'truth.json');
const simulator = spawn(
  process.execPath,
  [
    CLI,
    'simulate',
    '--scenario',
    path.join(dir, 'scenario.yaml'),
    '--speed',
    String(SPEED),
    '--duration',
    `${(MINUTES * 60 * SPEED) / 3600}h`,
    '--broker',
    mosquitto.url,
    '--truth',
    truthFile,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let simOut = '';
simulator.stderr.on('data', (d: Buffer) => (simOut += d.toString()));
const simDone = new Promise<void>((r) => simulator.once('exit', () => r()));

const api = async <T>(p: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${http}${p}`)).json()) as T;
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Status {
  ingest: { readingsAccepted: number };
  store: { readingsStored: number; pendingSamples: number };
  journal: { depth: number };
  scoring: { eventLoopLagMs: { p99: number }; machinesScored: number };
  alerts: {
    open: number;
    acknowledged: number;
    resolved: number;
    quality: { truePositives: number; falseAlarms: number; missedFailures: number };
  };
  training: { lastRun: { state: string } | null; running: unknown };
  model: { champion: string | null };
}

const samples: Array<{ min: number; heap: number; rss: number }> = [];
const t0 = Date.now();
console.log(
  `bench:soak — ${MACHINES} machines × 1 msg/s × 14 sensors (across kinds), simulated ${SPEED}×, ${MINUTES} min, Mosquitto → vigil start → InfluxDB; scoring, alerts, scheduled training`,
);
console.log('min   RSS MB  heap MB  lag p99 ms  journal  readings stored  scored  alerts (TP/FA/missed)  model  training');
let nextPrint = 1;
const runs = new Set<string>();
while (Date.now() - t0 < MINUTES * 60_000 + 5000) {
  await new Promise((r) => setTimeout(r, 10_000));
  const minutes = (Date.now() - t0) / 60_000;
  const [st, metrics] = await Promise.all([api<Status>('/api/v1/status'), (await fetch(`http://127.0.0.1:${http}/metrics`)).text()]);
  const heap = metric(metrics, 'vigil_process_nodejs_heap_size_used_bytes') / 2 ** 20;
  samples.push({ min: minutes, heap, rss: rss() });
  if (st.training.lastRun) runs.add(JSON.stringify(st.training.lastRun));
  if (minutes >= nextPrint) {
    nextPrint++;
    const q = st.alerts.quality;
    console.log(
      `${minutes.toFixed(0).padStart(3)} ${rss().toFixed(0).padStart(8)} ${heap.toFixed(0).padStart(8)} ${st.scoring.eventLoopLagMs.p99.toFixed(1).padStart(11)} ${String(st.journal.depth).padStart(8)} ${String(st.store.readingsStored).padStart(16)} ${String(st.scoring.machinesScored).padStart(7)} ` +
        `${`${st.alerts.open + st.alerts.acknowledged + st.alerts.resolved} (${q.truePositives}/${q.falseAlarms}/${q.missedFailures})`.padStart(22)} ${String(st.model.champion ?? '-').padStart(6)}  ${st.training.running ? 'running' : (st.training.lastRun?.state ?? '-')}`,
    );
  }
}
await simDone;
// The simulator's last line: "… N messages, N readings, N events, N failures; N acknowledged, …".
const m = /(\d+) readings, \d+ events, (\d+) failures/.exec(simOut);
const summary = { readings: m ? Number(m[1]) : undefined, failures: m ? Number(m[2]) : undefined };
// Let the last batches land, then count what InfluxDB holds.
await new Promise((r) => setTimeout(r, 3000));
const count = async () => {
  const res = (await (
    await fetch(`${influxd.url}/query?db=${database}&q=${encodeURIComponent('SELECT count(*) FROM telemetry')}`)
  ).json()) as { results: Array<{ series?: Array<{ values: number[][] }> }> };
  return (res.results[0]?.series ?? []).reduce((n, s) => n + s.values[0]!.slice(1).reduce((x, y) => x + (y ?? 0), 0), 0);
};
const stored = await count();
const st = await api<Status>('/api/v1/status');

function fit(points: Array<[number, number]>): { slope: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, r2: sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0 };
}
const half = samples.filter((s) => s.min >= MINUTES / 2);
const heapFit = fit(half.map((s) => [s.min, s.heap]));
const rssFit = fit(half.map((s) => [s.min, s.rss]));
const q = st.alerts.quality;
console.log(
  `\nreadings: ${summary.readings ?? '?'} published by the simulator, ${stored} in InfluxDB, lost ${summary.readings !== undefined ? summary.readings - stored : '?'}; ` +
    `failures simulated ${summary.failures ?? '?'}, failure-risk alerts: ${q.truePositives} before a failure, ${q.missedFailures} failures missed, ${q.falseAlarms} false alarms; training runs seen: ${[...runs].length ? [...runs].map((r) => (JSON.parse(r) as { state: string }).state).join(', ') : 'none'}`,
);
console.log(
  `second half: heap ${heapFit.slope >= 0 ? '+' : ''}${heapFit.slope.toFixed(2)} MB/min (R² ${heapFit.r2.toFixed(2)}), RSS ${rssFit.slope >= 0 ? '+' : ''}${rssFit.slope.toFixed(2)} MB/min (R² ${rssFit.r2.toFixed(2)})`,
);
// Unbounded growth: a steady climb (good fit) of more than 1 MB of heap a minute.
const growing = heapFit.slope > 1 && heapFit.r2 > 0.6;
console.log(growing ? 'FAIL: the heap keeps growing' : 'memory: bounded');
daemon.kill('SIGTERM');
await new Promise((r) => daemon.once('exit', r));
await mosquitto.dispose();
await influxd.dispose();
rmSync(dir, { recursive: true, force: true });
process.exitCode = growing ? 1 : 0;
