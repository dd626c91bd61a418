/**
 * Real InfluxDB 1.x and Mosquitto 2.x for integration tests and benchmarks: installed from Debian
 * when missing, started by hand (no systemd) on free loopback ports with their data in temp dirs.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** Installs influxdb, mosquitto and mosquitto-clients with apt-get when any binary is missing. */
export function ensureDebianPackages(): void {
  // Binary → the Debian package that provides it (chromium drives the status-page tests).
  const packages: Record<string, string> = {
    influxd: 'influxdb',
    mosquitto: 'mosquitto',
    mosquitto_pub: 'mosquitto-clients',
    chromium: 'chromium',
  };
  const missing = Object.keys(packages).filter((b) => !onPath(b) && !existsSync(`/usr/sbin/${b}`) && !existsSync(`/usr/bin/${b}`));
  if (missing.length === 0) return;
  const asRoot = process.getuid?.() === 0;
  const run = (args: string[]) => {
    const [cmd, ...rest] = asRoot ? args : ['sudo', '-n', ...args];
    execFileSync(cmd!, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  process.stderr.write(`installing ${missing.join(', ')} from Debian packages for the integration tests\n`);
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', ...missing.map((b) => packages[b]!)]);
}

export function binary(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return name;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  let tail = '';
  if (logFile && existsSync(logFile)) tail = execFileSync('tail', ['-n', '20', logFile]).toString();
  throw new Error(`${what} did not come up within ${timeoutMs} ms\n${tail}`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface ManagedService {
  url: string;
  port: number;
  dir: string;
  /** Stops the process (SIGTERM, or SIGKILL when `kill`); data stays for a restart. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  dispose(): Promise<void>;
  /** The running process's id, or null while stopped. */
  pid(): number | null;
}

interface ProcessSpec {
  name: string;
  url: string;
  port: number;
  dir: string;
  command: string;
  args: string[];
  logFile: string;
  /** Whether the process's own output goes to logFile (mosquitto writes its log itself). */
  captureOutput: boolean;
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
}

/** Runs one server process that tests can stop (gracefully or with SIGKILL) and start again. */
async function managedProcess(spec: ProcessSpec): Promise<ManagedService> {
  let child: ChildProcess | null = null;
  const service: ManagedService = {
    url: spec.url,
    port: spec.port,
    dir: spec.dir,
    async start() {
      const out = spec.captureOutput ? openSync(spec.logFile, 'a') : 'ignore';
      const c = spawn(spec.command, spec.args, { stdio: ['ignore', out, out] });
      child = c;
      await waitFor(
        async () => {
          if (c.exitCode !== null) throw new Error(`${spec.name} exited with ${c.exitCode}: see ${spec.logFile}`);
          return spec.ready();
        },
        spec.readyTimeoutMs,
        spec.name,
        spec.logFile,
      );
    },
    async stop(o = {}) {
      const c = child;
      child = null;
      if (!c) return;
      c.kill(o.kill ? 'SIGKILL' : 'SIGTERM');
      await exited(c);
    },
    async dispose() {
      await service.stop();
      rmSync(spec.dir, { recursive: true, force: true });
    },
    pid: () => child?.pid ?? null,
  };
  await service.start();
  return service;
}

export async function startInfluxd(options: { dir?: string } = {}): Promise<ManagedService> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'vigil-influx-'));
  const port = await freePort();
  const rpcPort = await freePort();
  const conf = path.join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
`,
  );
  const url = `http://127.0.0.1:${port}`;
  return managedProcess({
    name: 'influxd',
    url,
    port,
    dir,
    command: binary('influxd'),
    args: ['-config', conf],
    logFile: path.join(dir, 'influxd.log'),
    captureOutput: true,
    readyTimeoutMs: 30_000,
    ready: async () => {
      try {
        return (await fetch(`${url}/ping`)).status === 204;
      } catch {
        return false;
      }
    },
  });
}

export async function startMosquitto(options: { dir?: string; extraConfig?: string; queueLimits?: string } = {}): Promise<ManagedService> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'vigil-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  const logFile = path.join(dir, 'mosquitto.log');
  // A persistent session must hold everything published while the daemon is down (the default is 1000).
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location ${dir}/
autosave_interval 1
${options.queueLimits ?? 'max_queued_messages 5000000\nmax_inflight_messages 200'}
log_dest file ${logFile}
log_type error
log_type warning
${options.extraConfig ?? ''}
`,
  );
  // As root, mosquitto drops to user "mosquitto" and exits silently when it cannot write its files.
  if (process.getuid?.() === 0) chownTree(dir, 'mosquitto');
  return managedProcess({
    name: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    command: binary('mosquitto'),
    args: ['-c', conf],
    logFile,
    captureOutput: false,
    readyTimeoutMs: 15_000,
    ready: () => portOpen(port),
  });
}

function chownTree(dir: string, user: string): void {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  const walk = (p: string) => {
    chownSync(p, uid, gid);
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) walk(path.join(p, f));
  };
  walk(dir);
}
