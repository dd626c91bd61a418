/**
 * npm run bench:attack [-- --cli dist/src/cli.js --runs 5 --only sigkill,connect,login,reads,federation,sparkplug,misc]
 *
 * The attack campaign of docs/reliability.md ("A hostile local client"), against `vigil start` as a
 * child process on its defaults (embedded broker, SQLite), each scenario with the figures that say
 * what it cost: acknowledged readings lost to a SIGKILL mid-flood, /api/v1/status latency (from a
 * thread of its own, over the attack and at least 10 s) and the daemon's resident memory. `--cli` points at another
 * build (an older commit's dist/src/cli.js) to measure before and after on the same host.
 * Figures only; nothing here asserts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { hashPassword } from '../src/ingest/broker-auth.js';
import { SqliteSensorStore } from '../src/store/sqlite-store.js';
import {
  federationFrames,
  inventedSparkplugNodes,
  latencyProbe,
  loginBurst,
  readBurst,
  rssMb,
  rssSampler,
  spoofedDeaths,
  unfinishedConnects,
  type Latencies,
} from './lib/attacks.js';
import { publishStream } from './lib/publisher.js';
import { ensureDebianPackages, freePort, startMosquitto } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    cli: { type: 'string', default: path.resolve('dist/src/cli.js') },
    runs: { type: 'string', default: '5' },
    only: { type: 'string', default: 'sigkill,connect,login,reads,federation,sparkplug,misc' },
  },
});
const CLI = path.resolve(args.cli);
const only = new Set(args.only.split(','));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SENSORS = 14;
const ms = (l: Latencies) =>
  `status p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (${l.n} polls${l.failed ? `, ${l.failed} failed` : ''})`;

interface Daemon {
  pid: number;
  http: string;
  mqttPort: number;
  dir: string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function startDaemon(dir: string, config: Record<string, unknown>, mqttPort: number): Promise<Daemon> {
  const port = await freePort();
  const file = path.join(dir, 'vigil.json');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      log: { level: 'warn' },
      http: { port },
      learning: { modelsDir: path.join(dir, 'models') },
      schedule: { enabled: false },
      ...config,
      mqtt: {
        clientId: 'vigil-attack',
        ...(config.mqtt as object),
        embedded: { port: mqttPort, allowAnonymous: true, ...((config.mqtt as { embedded?: object })?.embedded ?? {}) },
      },
    }),
  );
  // As `npm start` runs it.
  const child = spawn(process.execPath, ['--max-old-space-size=192', '--max-semi-space-size=8', CLI, 'start', '-c', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const http = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}`);
    if (
      await fetch(`${http}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error('vigil not ready within 60 s');
    await sleep(200);
  }
  return {
    pid: child.pid!,
    http,
    mqttPort,
    dir,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return new Promise((r) => child.once('exit', (code) => r(code)));
    },
  };
}

function readingsIn(dir: string): number {
  const db = new Database(path.join(dir, 'data', 'sensors.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** SIGKILL mid-flood through the embedded broker; acknowledged readings missing after the restart. */
async function sigkillRuns(runs: number): Promise<void> {
  const lost: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-attack-kill-'));
    const mqttPort = await freePort();
    try {
      const first = await startDaemon(dir, {}, mqttPort);
      const count = 30_000;
      const stream = publishStream({
        url: `mqtt://127.0.0.1:${mqttPort}`,
        machines: 40,
        count,
        rate: 5000,
        sensors: SENSORS,
        qos: 1,
        startTs: Date.now() - 3_600_000,
      });
      // Somewhere in the flood, not at a chosen moment.
      await sleep(2000 + Math.random() * 2000);
      await first.stop('SIGKILL');
      await sleep(1000);
      const second = await startDaemon(dir, {}, mqttPort);
      const result = await stream;
      // Until every acknowledged reading is stored, or nothing moves for 20 s.
      let stored = -1;
      let still = Date.now();
      for (;;) {
        const s = (await (await fetch(`${second.http}/api/v1/status`)).json()) as { journal: { depth: number } };
        const now = readingsIn(dir);
        if (now !== stored) {
          stored = now;
          still = Date.now();
        }
        if ((stored >= result.acked * SENSORS && s.journal.depth === 0) || Date.now() - still > 20_000) break;
        await sleep(500);
      }
      await second.stop();
      const missing = result.acked * SENSORS - readingsIn(dir);
      lost.push(missing);
      console.log(
        `sigkill run ${run}: ${result.acked} of ${count} messages acknowledged, ${missing} acknowledged readings lost (of ${result.acked * SENSORS})`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`sigkill mid-flood (5,000 msgs/s, QoS 1, embedded broker): acknowledged readings lost per run ${lost.join(', ')}`);
}

/** Runs `attack` with the daemon's status latency and memory measured around it. */
async function measured<T>(d: Daemon, what: string, attack: () => Promise<T>, describe: (r: T) => string): Promise<void> {
  await sleep(2000);
  const idle = rssMb(d.pid);
  const probe = latencyProbe(`${d.http}/api/v1/status`);
  const rss = rssSampler(d.pid);
  const started = Date.now();
  const result = await attack();
  // Every scenario is probed for 10 s at least, so a quick one's p99 is not its one worst poll.
  await sleep(Math.max(0, 10_000 - (Date.now() - started)));
  const latency = await probe.stop();
  const mem = rss.stop();
  await sleep(3000);
  const after = rssMb(d.pid);
  console.log(
    `${what}: ${describe(result)}; ${ms(latency)}; RSS idle ${idle.toFixed(0)} MB, peak ${mem.peakMb.toFixed(0)} MB (+${(mem.peakMb - idle).toFixed(0)}), 3 s after ${after.toFixed(0)} MB (+${(after - idle).toFixed(0)})`,
  );
}

async function status(d: Daemon): Promise<Record<string, Record<string, unknown>>> {
  return (await (await fetch(`${d.http}/api/v1/status`)).json()) as Record<string, Record<string, unknown>>;
}

async function main(): Promise<void> {
  console.log(`daemon under attack: ${CLI}`);
  if (only.has('sigkill')) await sigkillRuns(Number(args.runs));
  const rest = ['connect', 'login', 'reads', 'federation', 'sparkplug', 'misc'].filter((s) => only.has(s));
  if (rest.length === 0) return;
  ensureDebianPackages();
  const mosquitto = await startMosquitto();
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-attack-'));
  // Ten years back from now, one machine with 120,000 samples of 14 sensors to read.
  const seed = new SqliteSensorStore(path.join(dir, 'data', 'sensors.db'));
  await seed.open();
  const t0 = Date.now() - 120_000 * 1000;
  for (let b = 0; b < 120; b++)
    await seed.write({
      samples: Array.from({ length: 1000 }, (_, i) => ({
        machine: { site: 'plant', line: 'l1', machine: 'big' },
        ts: t0 + (b * 1000 + i) * 1000,
        values: Object.fromEntries(Array.from({ length: SENSORS }, (_, s) => [`s${s}`, Math.sin(i / 50 + s)])),
      })),
      events: [],
    });
  await seed.close();
  const mqttPort = await freePort();
  const config = {
    mqtt: {
      embedded: { users: [{ username: 'line1', passwordHash: await hashPassword('the right one') }], maxPacketBytes: '17MiB' },
      sparkplug: { enabled: true },
    },
    federation: { enabled: true, key: 'a federation key of forty characters....', client: 'gw-a', broker: { url: mosquitto.url } },
  };
  // Each scenario meets a fresh daemon (on the same data): what one left behind does not count against the next.
  let d = await startDaemon(dir, config, mqttPort);
  const fresh = async () => {
    await d.stop();
    d = await startDaemon(dir, config, mqttPort);
  };
  try {
    if (only.has('connect')) {
      await measured(
        d,
        '300 sockets each announcing a 1 MiB CONNECT, sending it but never finishing it',
        () => unfinishedConnects({ port: mqttPort, sockets: 300, announceBytes: 1 << 20, holdMs: 5000 }),
        (closed) => `${closed} of 300 closed by the broker`,
      );
      await fresh();
      await measured(
        d,
        '300 sockets each announcing a 16 KiB CONNECT and never finishing it',
        () => unfinishedConnects({ port: mqttPort, sockets: 300, announceBytes: 16_000, holdMs: 12_000 }),
        (closed) => `${closed} of 300 closed by the broker`,
      );
    }
    if (only.has('login')) {
      await fresh();
      await measured(
        d,
        '400 logins at once with a wrong password',
        () => loginBurst({ port: mqttPort, attempts: 400, username: 'line1' }),
        (codes) => `CONNACK codes ${JSON.stringify(codes)}`,
      );
      await measured(
        d,
        '400 logins at once with a wrong password, again',
        () => loginBurst({ port: mqttPort, attempts: 400, username: 'line1' }),
        (codes) => `CONNACK codes ${JSON.stringify(codes)}`,
      );
      await measured(
        d,
        '400 logins with a wrong password, 20 at a time',
        () => loginBurst({ port: mqttPort, attempts: 400, username: 'line1', inFlight: 20 }),
        (codes) => `CONNACK codes ${JSON.stringify(codes)}`,
      );
    }
    if (only.has('reads')) {
      await fresh();
      // One small read first: it starts the store's reader thread, a cost paid once.
      await readBurst({ url: `${d.http}/api/v1/machines/big/readings?from=-1m`, clients: 1, requests: 1 });
      await measured(
        d,
        "20 anonymous clients each reading a machine's ten years 5 times",
        () => readBurst({ url: `${d.http}/api/v1/machines/big/readings?from=-3650d`, clients: 20, requests: 5 }),
        (codes) => `answers ${JSON.stringify(codes)}`,
      );
    }
    if (only.has('federation')) await fresh();
    if (only.has('federation'))
      await measured(
        d,
        '40 forged federation plans of 15 MiB',
        () =>
          federationFrames({
            url: mosquitto.url,
            topic: 'vigil/_federation/plant/pump/plan',
            federation: 'plant',
            kind: 'pump',
            frames: 40,
            bytes: 15 * 2 ** 20,
          }),
        (n) => `${n} sent`,
      );
    if (only.has('federation')) {
      await sleep(2000);
      const f = (await status(d)).federation as { counters: { refused: Record<string, number> }; broker: { connected: boolean } };
      console.log(`federation: broker connected ${f.broker.connected}, messages refused by reason ${JSON.stringify(f.counters.refused)}`);
    }
    if (only.has('sparkplug')) {
      await fresh();
      const ncmd = await inventedSparkplugNodes({ url: `mqtt://127.0.0.1:${mqttPort}`, group: 'plant1', nodes: 3000, settleMs: 2000 });
      const sp = (await status(d)).sparkplug!;
      console.log(
        `sparkplug: 3,000 invented nodes sent DATA: ${ncmd} rebirth requests (NCMD) published, ${String(sp.nodes)} node sessions kept`,
      );
      await spoofedDeaths({ url: `mqtt://127.0.0.1:${mqttPort}`, group: 'plant1', node: 'real-edge', bdSeq: 77 });
      await sleep(1000);
      const after = (await status(d)).sparkplug!;
      const alerts = (await (await fetch(`${d.http}/api/v1/alerts?limit=500`)).json()) as { items: Array<{ kind: string }> };
      console.log(
        `sparkplug: 512 spoofed NDEATHs (bdSeq 0-255, twice) for a born node: deaths counted ${String(after.deaths)}, ignored ${String(after.staleDeaths)}, machine_offline alerts ${alerts.items.filter((a) => a.kind === 'machine_offline').length}`,
      );
    }
    if (only.has('misc')) {
      const long = await fetch(`${d.http}/api/v1/machines/${'m'.repeat(101)}`);
      console.log(`path parameter of 101 characters: HTTP ${long.status}, body ${(await long.text()).slice(0, 120)}`);
      const printed = spawnSync(process.execPath, [CLI, 'config', 'print'], {
        env: { ...process.env, VIGIL_INFLUX_URL: 'http://db:8086/?u=admin&p=influx-secret' },
        encoding: 'utf8',
      });
      console.log(
        `config print with VIGIL_INFLUX_URL=http://db:8086/?u=admin&p=…: the password ${printed.stdout.includes('influx-secret') ? 'is printed' : 'is masked'}`,
      );
    }
  } finally {
    await d.stop();
    await mosquitto.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
