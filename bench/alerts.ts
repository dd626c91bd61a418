/**
 * npm run bench:alerts [-- --machines 100 --seconds 60 --training-seconds 60]
 *
 * 100 machines at 1 Hz (a child process) → embedded broker → the daemon, scoring each machine at
 * most every 250 ms and opening an alert on the first score above the threshold (debounce 1, so the
 * figure is the pipeline's own latency). Prints p50/p99 latency from publishing the crossing message
 * to the alert arriving on the SSE stream, inference time per scoring batch, and event-loop lag,
 * first without and then with a training run in progress.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/vigil-config.js';
import { silentLogger } from '../src/core/logger.js';
import { Daemon } from '../src/main.js';
import { loadTf, quietTfWarnings } from '../src/model/backend.js';
import { ModelRegistry } from '../src/registry/registry.js';
import { alertBenchMeta, buildAlertBenchModel } from './lib/alert-model.js';
import { freePort } from './lib/services.js';

const { values: a } = parseArgs({
  options: {
    machines: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '60' },
    'training-seconds': { type: 'string', default: '60' },
  },
});
const MACHINES = Number(a.machines);
const WINDOW = 20;
const SENSORS = ['x', 's1', 's2', 's3', 's4', 's5'];
const here = path.dirname(fileURLToPath(import.meta.url));

quietTfWarnings();
const { tf } = await loadTf('auto');
const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-alerts-'));
const registry = new ModelRegistry(path.join(dataDir, 'models'));
await registry.save(tf, buildAlertBenchModel(tf, WINDOW, SENSORS), alertBenchMeta(WINDOW, SENSORS, 1000));
registry.promote('v0001', 'bench fixture');

const config = validateConfig(
  {
    dataDir,
    log: { level: 'silent' },
    // The publishing child connects without a user, over loopback.
    mqtt: { embedded: { port: await freePort(), allowAnonymous: true }, clientId: 'bench-alerts' },
    http: { port: await freePort() },
    // Epochs enough to keep one run going through the whole training phase (with the fast kernels
    // 30 epochs of this data take seconds).
    learning: {
      modelsDir: path.join(dataDir, 'models'),
      step: '1s',
      window: WINDOW,
      horizon: 5,
      rulCap: 30,
      maxGapSteps: 2,
      stride: 2,
      model: { epochs: 1000, patience: 1000, units: [64, 32] },
    },
    schedule: { enabled: false },
    scoring: { interval: '250ms', maxBatch: 256 },
    alerts: { risk: { high: 0.5, low: 0.3, openAfter: 1, closeAfter: 2 }, staleAfter: '1h', sensorStaleAfter: '1h' },
  },
  { cwd: process.cwd(), origin: 'bench:alerts' },
);
const daemon = new Daemon(config, silentLogger());
await daemon.start();

// The alert stream, as a dashboard would read it.
const opened = new Map<string, number[]>();
const sse = await fetch(`${daemon.httpUrl}/api/v1/alerts/stream`);
void (async () => {
  const reader = sse.body!.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (done) return;
    const at = Date.now();
    buf += new TextDecoder().decode(value);
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const ev = JSON.parse(data.slice(6)) as { type: string; alert: { kind: string; machine: { machine: string } } };
      if (ev.type === 'opened' && ev.alert.kind === 'failure_risk')
        opened.set(ev.alert.machine.machine, [...(opened.get(ev.alert.machine.machine) ?? []), at]);
    }
  }
})();

const total = Number(a.seconds) + Number(a['training-seconds']) + WINDOW + 10;
const fleet = spawn(
  process.execPath,
  [
    path.join(here, 'alerts-fleet.js'),
    JSON.stringify({ url: daemon.mqttUrl, machines: MACHINES, seconds: total, cycleSeconds: 40, crossAt: WINDOW + 5 }),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const crossings: Array<{ machine: string; sentAt: number; phase: 'idle' | 'training' }> = [];
let phase: 'warmup' | 'idle' | 'training' = 'warmup';
createInterface({ input: fleet.stdout! }).on('line', (line) => {
  const m = JSON.parse(line) as { machine?: string; sentAt?: number };
  if (m.machine && m.sentAt && phase !== 'warmup') crossings.push({ machine: m.machine, sentAt: m.sentAt, phase });
});

const lag = monitorEventLoopDelay({ resolution: 10 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
console.log(`bench:alerts — ${MACHINES} machines at 1 Hz, window ${WINDOW} steps of 1 s; warming up ${WINDOW + 10} s`);
await sleep((WINDOW + 10) * 1000);

const lagFigures = () => ({
  p50: Math.max(0, lag.percentile(50) / 1e6 - 10),
  p99: Math.max(0, lag.percentile(99) / 1e6 - 10),
  max: Math.max(0, lag.max / 1e6 - 10),
});
phase = 'idle';
const batchStart = daemon.stages.scoring.service.recentBatchMs.length;
lag.enable();
await sleep(Number(a.seconds) * 1000);
const idleLag = lagFigures();
const idleBatches = daemon.stages.scoring.service.recentBatchMs.slice(batchStart);

phase = 'training';
lag.reset();
const run = daemon.stages.training.trigger({ trigger: 'cli' });
const trainingStart = Date.now();
// Lag is read while the run is in progress only; the phase itself goes on for its full length.
let trainingLag = lagFigures();
let trainingMs = 0;
while (Date.now() - trainingStart < Number(a['training-seconds']) * 1000) {
  await sleep(250);
  if (trainingMs === 0) {
    trainingLag = lagFigures();
    if (daemon.stages.training.get(run.id)!.state !== 'running') trainingMs = Date.now() - trainingStart;
  }
}
const runState = daemon.stages.training.get(run.id)!;
lag.disable();
fleet.kill();
await sleep(1500);

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
function latencies(which: 'idle' | 'training') {
  const out: number[] = [];
  let missing = 0;
  for (const c of crossings.filter((x) => x.phase === which)) {
    const at = opened.get(c.machine)?.find((t) => t >= c.sentAt && t - c.sentAt < 10_000);
    if (at === undefined) missing++;
    else out.push(at - c.sentAt);
  }
  return { out, missing };
}
for (const which of ['idle', 'training'] as const) {
  const { out, missing } = latencies(which);
  const l = which === 'idle' ? idleLag : trainingLag;
  console.log(
    `${which === 'idle' ? 'no training  ' : 'training run '}: crossing → SSE alert p50 ${pct(out, 50).toFixed(0)} ms, p99 ${pct(out, 99).toFixed(0)} ms, max ${Math.max(...out).toFixed(0)} ms over ${out.length} alerts (${missing} not seen); ` +
      `event-loop lag p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms`,
  );
}
console.log(
  `scoring batches: ${idleBatches.length}, inference p50 ${pct(idleBatches, 50).toFixed(1)} ms, p99 ${pct(idleBatches, 99).toFixed(1)} ms per batch (mean ${(idleBatches.length ? (MACHINES * Number(a.seconds)) / idleBatches.length : 0).toFixed(1)} machines per batch incl. occlusion)`,
);
console.log(
  `training run in the second phase: ${runState.state}${trainingMs ? ` after ${(trainingMs / 1000).toFixed(0)} s (lag above measured over those seconds)` : ', still running at the end of the phase'}; ${runState.reason ?? runState.error ?? ''}`,
);
const s = daemon.status();
console.log(
  `daemon: ${s.ingest.messagesAccepted} messages, ${s.scoring.scoresTotal} scores, alerts ${s.alerts.resolved} resolved (${s.alerts.quality.truePositives} by failures), deliveries dead ${s.alerts.deliveries.dead}`,
);
await daemon.stages.training.stop();
await daemon.stop();
process.exit(0);
