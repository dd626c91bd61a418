/**
 * npm run bench:sparkplug [-- --nodes N --devices D --metrics M --messages K]
 *
 * Sparkplug B end to end: edge nodes (a child process) publish NBIRTH, DBIRTH and alias-only DDATA
 * at QoS 1 through a real Mosquitto into a daemon storing to a real InfluxDB, journal on. Prints
 * msgs/s and metrics/s from the first publish to the commit of the last reading, and checks the
 * count in InfluxDB itself. Target: ≥ 20,000 metrics/s into InfluxDB. Figures only; no assertion.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/vigil-config.js';
import { createLogger } from '../src/core/logger.js';
import type { CommitInfo } from '../src/journal/batch-writer.js';
import { Daemon } from '../src/main.js';
import { ensureDebianPackages, freePort, startInfluxd, startMosquitto } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    devices: { type: 'string', default: '5' },
    metrics: { type: 'string', default: '20' },
    messages: { type: 'string', default: '1500' },
  },
});
const nodes = Number(args.nodes);
const devices = Number(args.devices);
const metrics = Number(args.metrics);
const messages = Number(args.messages);
const dataMessages = nodes * devices * messages;
const births = nodes * (1 + devices);
// The DBIRTH values are readings too; the NBIRTH's bdSeq is not.
const expectedReadings = dataMessages * metrics + nodes * devices * metrics;

ensureDebianPackages();
const mosquitto = await startMosquitto();
const influx = await startInfluxd();
const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-sp-'));
const database = `bench_sp_${Date.now()}`;
try {
  const config = validateConfig(
    {
      dataDir,
      log: { level: 'warn' },
      http: { port: await freePort() },
      mqtt: { url: mosquitto.url, clientId: `vigil-bench-sp-${Date.now()}`, sparkplug: { enabled: true } },
      store: { kind: 'influx', influx: { url: influx.url, database } },
    },
    { cwd: process.cwd(), origin: 'bench' },
  );
  const daemon = new Daemon(config, createLogger({ level: 'warn' }));
  await daemon.start();
  while (!daemon.readiness().ready || !daemon.status().broker.subscribed) await new Promise((r) => setTimeout(r, 50));
  let stored = 0;
  let lastCommitAt = 0;
  daemon.stages.journal.writer.on('commit', (c: CommitInfo) => {
    stored += c.readings;
    lastCommitAt = c.committedAt;
  });
  console.log(
    `bench:sparkplug — ${nodes} edge nodes × ${devices} devices, ${metrics} metrics per DDATA (alias only), ${dataMessages} DDATA + ${births} births, QoS 1 via Mosquitto → InfluxDB, journal on, node ${process.version}`,
  );
  const worker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'sparkplug-publisher.js');
  const child = spawn(
    process.execPath,
    [worker, JSON.stringify({ url: mosquitto.url, nodes, devices, metrics, messages, startTs: Date.now() - 3_600_000 })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: Array<Record<string, unknown>> = [];
  child.stdout.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  await new Promise((r) => child.once('exit', r));
  const ready = lines.find((l) => l.ready) as { at: number };
  const result = lines.find((l) => !l.ready) as { acked: number; startedAt: number; finishedAt: number };
  const deadline = Date.now() + 120_000;
  while (stored < expectedReadings && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (lastCommitAt - ready.at) / 1000;
  const res = await fetch(`${influx.url}/query?db=${database}&q=${encodeURIComponent('SELECT count(*) FROM telemetry')}`);
  const body = (await res.json()) as { results: Array<{ series?: Array<{ values: unknown[][] }> }> };
  let inInflux = 0;
  for (const s of body.results[0]?.series ?? [])
    for (const row of s.values) for (const v of row.slice(1)) inInflux += typeof v === 'number' ? v : 0;
  const st = daemon.status();
  console.log(
    `publisher alone: ${(result.acked / ((result.finishedAt - result.startedAt) / 1000)).toFixed(0)} msgs/s (${result.acked} acknowledged)`,
  );
  console.log(
    `readings: expected ${expectedReadings}, committed ${stored}, in InfluxDB ${inInflux}; rejected ${JSON.stringify(st.ingest.rejectedByReason)}; rebirth requests ${st.sparkplug.rebirthRequests}`,
  );
  console.log(
    `sparkplug: ${((dataMessages + births) / seconds).toFixed(0)} msgs/s, ${(stored / seconds).toFixed(0)} metrics/s into InfluxDB end to end (${seconds.toFixed(2)} s; target ≥ 20000 metrics/s)`,
  );
  await daemon.stop();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  await mosquitto.dispose();
  await influx.dispose();
}
