/**
 * The two ingest paths bench:vs-nodered compares, each as its own process on the same Mosquitto and
 * InfluxDB: Vigil (`vigil start`) and Node-RED 4 with the flow an integrator builds for the job.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './services.js';

export interface Contender {
  name: string;
  pid: number;
  /** CPU seconds (user + system) used so far, all threads. */
  cpuSeconds(): number;
  /** Peak resident set size so far (VmHWM), bytes. */
  peakRss(): number;
  /** CPU seconds so far per thread (`main`, else name#tid: V8's helpers, libuv's pool, workers), to see where it goes. */
  threadCpu(): Map<string, number>;
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** CPU seconds of a process (all threads), 0 once it is gone. */
export function processCpu(pid: number | null): number {
  try {
    return pid === null ? 0 : procCpu(pid);
  } catch {
    return 0;
  }
}

function procThreadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Node names most of its threads "node": the main thread is the one whose id is the pid.
      const name = Number(tid) === pid ? 'main' : `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}#${tid}`;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

function procPeakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

function wrap(name: string, child: ChildProcess): Contender {
  const pid = child.pid!;
  return {
    name,
    pid,
    cpuSeconds: () => procCpu(pid),
    peakRss: () => procPeakRss(pid),
    threadCpu: () => procThreadCpu(pid),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** `vigil start` as production runs it (npm start's node flags), on `store`, with `overrides` on top. */
export async function startVigil(o: {
  dir: string;
  mqttUrl: string;
  store: Record<string, unknown>;
  overrides?: Record<string, unknown>;
  /** V8 old-generation limit, MB (production: 192). */
  heapMb?: number;
}): Promise<Contender & { http: string }> {
  const port = await freePort();
  const file = path.join(o.dir, 'vigil.yaml');
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: path.join(o.dir, 'data'),
      log: { level: 'warn' },
      http: { port },
      mqtt: { url: o.mqttUrl, clientId: `vigil-vs-${Date.now()}` },
      store: o.store,
      learning: { modelsDir: path.join(o.dir, 'models') },
      schedule: { enabled: false },
      ...o.overrides,
    }),
  );
  // As `npm start` runs it in production.
  const cli = path.resolve(here, '../../src/cli.js');
  // VIGIL_BENCH_CPU_PROF=<dir>: a V8 CPU profile of the daemon for each run, to see where its time goes.
  // VIGIL_BENCH_NODE_ARGS: more flags for the daemon's node, e.g. "--trace-gc" or "--heapsnapshot-signal=SIGUSR2".
  const profile = process.env.VIGIL_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.VIGIL_BENCH_CPU_PROF}`] : [];
  profile.push(...(process.env.VIGIL_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean));
  const child = spawn(
    process.execPath,
    [...profile, `--max-old-space-size=${o.heapMb ?? 192}`, '--max-semi-space-size=8', cli, 'start', '-c', file],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000, 'vigil', child);
  return { ...wrap('Vigil', child), http: `http://127.0.0.1:${port}` };
}

/** Installs node-red@4 and node-red-contrib-influxdb once into a cache directory (npm only). */
export function installNodeRed(): string {
  const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'vigil-bench', 'node-red-4');
  if (
    !existsSync(path.join(dir, 'node_modules', 'node-red', 'red.js')) ||
    !existsSync(path.join(dir, 'node_modules', 'node-red-contrib-influxdb'))
  ) {
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`installing node-red@4 and node-red-contrib-influxdb into ${dir}\n`);
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', dir, 'node-red@4.1.8', 'node-red-contrib-influxdb@0.7.0'],
      { stdio: 'inherit' },
    );
  }
  return dir;
}

/**
 * MQTT in (QoS 1, parsed JSON) → function (one InfluxDB point: measurement, machine tag, 14 fields,
 * ms timestamp) → join (1,000 messages or 1 s) → influxdb batch.
 */
export function nodeRedFlow(o: { mqttPort: number; influxPort: number; database: string; topic: string }): unknown[] {
  // Ids in Node-RED's own form: it resolves config-node references by matching property values to ids.
  return [
    { id: '5a1f0e7c2b3d4a01', type: 'tab', label: 'ingest' },
    {
      id: '5a1f0e7c2b3d4a02',
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: '127.0.0.1',
      port: String(o.mqttPort),
      clientid: `nodered-vs-${Date.now()}`,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
    {
      id: '5a1f0e7c2b3d4a03',
      type: 'mqtt in',
      z: '5a1f0e7c2b3d4a01',
      name: 'telemetry',
      topic: o.topic,
      qos: '1',
      datatype: 'json',
      broker: '5a1f0e7c2b3d4a02',
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      wires: [['5a1f0e7c2b3d4a04']],
    },
    {
      id: '5a1f0e7c2b3d4a04',
      type: 'function',
      z: '5a1f0e7c2b3d4a01',
      name: 'to InfluxDB point',
      func: "const machine = msg.topic.split('/')[3];\nmsg.payload = { measurement: 'telemetry', tags: { machine }, fields: msg.payload.values, timestamp: msg.payload.ts };\nreturn msg;",
      outputs: 1,
      wires: [['5a1f0e7c2b3d4a05']],
    },
    {
      id: '5a1f0e7c2b3d4a05',
      type: 'join',
      z: '5a1f0e7c2b3d4a01',
      name: 'batch',
      mode: 'custom',
      build: 'array',
      property: 'payload',
      propertyType: 'msg',
      key: 'topic',
      joiner: '\\n',
      joinerType: 'str',
      accumulate: false,
      timeout: '1',
      count: '1000',
      reduceRight: false,
      wires: [['5a1f0e7c2b3d4a07']],
    },
    {
      id: '5a1f0e7c2b3d4a06',
      type: 'influxdb',
      hostname: '127.0.0.1',
      port: String(o.influxPort),
      protocol: 'http',
      database: o.database,
      name: 'influx',
      usetls: false,
      influxdbVersion: '1.x',
    },
    {
      id: '5a1f0e7c2b3d4a07',
      type: 'influxdb batch',
      z: '5a1f0e7c2b3d4a01',
      influxdb: '5a1f0e7c2b3d4a06',
      precision: 'ms',
      retentionPolicy: '',
      name: 'write',
      wires: [],
    },
  ];
}

export async function startNodeRed(o: {
  install: string;
  dir: string;
  mqttPort: number;
  influxPort: number;
  database: string;
  topic: string;
}): Promise<Contender> {
  const port = await freePort();
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(path.join(o.dir, 'flows.json'), JSON.stringify(nodeRedFlow(o)));
  writeFileSync(
    path.join(o.dir, 'settings.js'),
    `module.exports = ${JSON.stringify({ uiPort: port, uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'warn', metrics: false, audit: false } }, editorTheme: { tours: false }, externalModules: { autoInstall: false } })};\n`,
  );
  // Node-RED finds nodes in its userDir's node_modules: the cached install is linked there.
  const link = path.join(o.dir, 'node_modules');
  if (!existsSync(link)) execFileSync('ln', ['-s', path.join(o.install, 'node_modules'), link]);
  const child = spawn(
    process.execPath,
    [path.join(o.install, 'node_modules', 'node-red', 'red.js'), '--settings', path.join(o.dir, 'settings.js'), '--userDir', o.dir],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/flows`)).ok, 60_000, 'node-red', child);
  // The flow is started once the MQTT node has subscribed; give it a moment to connect.
  await new Promise((r) => setTimeout(r, 1500));
  return wrap('Node-RED', child);
}
