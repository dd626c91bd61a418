/**
 * What a hostile local client or a careless integrator can send a running daemon, one scenario a
 * function, and the probes that measure what it cost: /api/v1/status latency from a thread of its
 * own (so the attack's own work does not slow the measurement) and the daemon's resident memory.
 * bench:attack prints the figures; tests/integration/hostile-clients.test.ts checks the bounds.
 * Loopback only, bounded in count and time.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import type { Plan } from '../../src/federation/messages.js';
import { encodeFrame } from '../../src/federation/wire.js';
import { encodePayload } from '../../src/ingest/sparkplug/codec.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** Resident memory of a process now (VmRSS), MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface Latencies {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Requests that failed or took over 10 s. */
  failed: number;
}

/**
 * GET `url` one after another (a pause of `gapMs` between) from a worker thread until stopped; the
 * latencies of all of them. The worker has its own event loop: a busy attacker does not delay it.
 */
export function latencyProbe(url: string, gapMs = 20): { stop(): Promise<Latencies> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let running = true;
     const times = [];
     let failed = 0;
     parentPort.on('message', () => { running = false; });
     (async () => {
       while (running) {
         const t0 = performance.now();
         try {
           const res = await fetch(workerData.url, { signal: AbortSignal.timeout(10000) });
           await res.arrayBuffer();
           times.push(performance.now() - t0);
         } catch { failed++; }
         await new Promise((r) => setTimeout(r, workerData.gapMs));
       }
       parentPort.postMessage({ times, failed });
     })();`,
    { eval: true, workerData: { url, gapMs } },
  );
  return {
    async stop() {
      const result = new Promise<{ times: number[]; failed: number }>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const { times, failed } = await result;
      await worker.terminate();
      return { n: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times), failed };
    },
  };
}

/** The daemon's resident memory sampled every 100 ms: the highest and the last. */
export function rssSampler(pid: number): { stop(): { peakMb: number; endMb: number } } {
  let peak = rssMb(pid);
  let last = peak;
  const timer = setInterval(() => {
    try {
      last = rssMb(pid);
      peak = Math.max(peak, last);
    } catch {
      // The process is gone.
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return { peakMb: peak, endMb: last };
    },
  };
}

/** An MQTT fixed header: the packet type byte and the remaining length as MQTT encodes it. */
export function fixedHeader(type: number, length: number): Buffer {
  const bytes = [type];
  let n = length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * `sockets` connections that each announce a CONNECT of `announceBytes` and send all of it but the
 * last bytes (as slowly as the broker reads), then hold it for `holdMs`: what the broker keeps for
 * clients that never log in. Returns how many the broker closed itself.
 */
export async function unfinishedConnects(o: { port: number; sockets: number; announceBytes: number; holdMs: number }): Promise<number> {
  const sockets: net.Socket[] = [];
  let closedByBroker = 0;
  const body = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < o.sockets; i++) {
    let s: net.Socket;
    try {
      s = await openSocket(o.port);
    } catch {
      closedByBroker++;
      continue;
    }
    sockets.push(s);
    s.on('error', () => undefined);
    s.once('close', () => closedByBroker++);
    // A valid CONNECT's start, then filler that never completes it.
    s.write(Buffer.concat([fixedHeader(0x10, o.announceBytes), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60])]));
    let sent = 10;
    const more = () => {
      while (!s.destroyed && sent + body.length < o.announceBytes - 16) {
        sent += body.length;
        if (!s.write(body)) return void s.once('drain', more);
      }
    };
    more();
  }
  await sleep(o.holdMs);
  const closed = closedByBroker;
  for (const s of sockets) s.destroy();
  return closed;
}

/**
 * `attempts` logins with a wrong password for `username` (a password guesser, or a fleet reconnecting
 * with stale credentials), `inFlight` at a time: the CONNACK codes seen (4 bad credentials, 3 busy,
 * 'closed' when the broker closed the connection first).
 */
export async function loginBurst(o: {
  port: number;
  attempts: number;
  username: string;
  inFlight?: number;
}): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  const one = async (i: number) => {
    let s: net.Socket;
    try {
      s = await openSocket(o.port);
    } catch {
      codes.refused = (codes.refused ?? 0) + 1;
      return;
    }
    const packet = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: `guess-${i}`,
      keepalive: 60,
      username: o.username,
      password: Buffer.from(`wrong-${i}`),
    });
    const code = await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), 30_000);
      s.on('data', (d: Buffer) => {
        if (d[0] === 0x20 && d.length >= 4) {
          clearTimeout(t);
          resolve(String(d[3]));
        }
      });
      s.on('error', () => undefined);
      s.once('close', () => {
        clearTimeout(t);
        resolve('closed');
      });
      s.write(packet);
    });
    codes[code] = (codes[code] ?? 0) + 1;
    s.destroy();
  };
  // `inFlight` at a time (a guesser that waits for each answer), or all at once.
  let next = 0;
  const lanes = Math.min(o.inFlight ?? o.attempts, o.attempts);
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < o.attempts) await one(next++);
    }),
  );
  return codes;
}

/** `clients` readers each asking `requests` times, one after another, for `url`: answers by status code. */
export async function readBurst(o: { url: string; clients: number; requests: number }): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: o.clients }, async () => {
      for (let i = 0; i < o.requests; i++) {
        try {
          const res = await fetch(o.url, { signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          codes[res.status] = (codes[res.status] ?? 0) + 1;
        } catch {
          codes.failed = (codes.failed ?? 0) + 1;
        }
      }
    }),
  );
  return codes;
}

/**
 * `frames` forged federation plans of about `bytes` each on a kind's plan topic: a layout that
 * matches the body (so only the signature gives them away), signed with the wrong key.
 */
export async function federationFrames(o: {
  url: string;
  topic: string;
  federation: string;
  kind: string;
  frames: number;
  bytes: number;
}): Promise<number> {
  const weights = Math.floor(o.bytes / 4);
  const body = new Float32Array(weights).fill(0.25);
  const plan: Plan = {
    type: 'plan',
    federation: o.federation,
    kind: o.kind,
    session: 'forged',
    task: 'round',
    round: 1,
    rounds: 1,
    issuedAt: 0,
    deadline: Date.now() + 3_600_000,
    params: { epochs: 1, batchSize: 32, learningRate: 0.01, mu: 0, seed: 1, privacy: null },
    shape: {
      window: 5,
      stride: 1,
      stepMs: 60_000,
      horizon: 3,
      rulCap: 10,
      units: [4],
      dropout: 0,
      validationFraction: 0.2,
      positiveShare: 0.3,
    },
    sensors: ['t'],
    layout: [{ name: 'w', shape: [weights] }],
    clients: [],
  };
  const key = Buffer.from('not the federation key, but long enough to sign');
  const client = await mqtt.connectAsync(o.url, { clientId: `forger-${process.pid}`, reconnectPeriod: 0 });
  let sent = 0;
  try {
    for (let i = 0; i < o.frames; i++) {
      await client.publishAsync(o.topic, encodeFrame({ ...plan, issuedAt: i }, body, key), { qos: 1 });
      sent++;
    }
  } finally {
    await client.endAsync();
  }
  return sent;
}

/** Sparkplug DATA from `nodes` invented edge nodes (one message each); the NCMD rebirth requests Vigil published meanwhile. */
export async function inventedSparkplugNodes(o: { url: string; group: string; nodes: number; settleMs: number }): Promise<number> {
  const watcher = await mqtt.connectAsync(o.url, { clientId: `ncmd-watch-${process.pid}`, reconnectPeriod: 0 });
  let requests = 0;
  watcher.on('message', () => requests++);
  await watcher.subscribeAsync(`spBv1.0/${o.group}/NCMD/+`, { qos: 0 });
  const pub = await mqtt.connectAsync(o.url, { clientId: `inventor-${process.pid}`, reconnectPeriod: 0 });
  const now = Date.now();
  for (let i = 0; i < o.nodes; i++) {
    const payload = encodePayload({ timestamp: now, seq: 5, metrics: [{ alias: 1, timestamp: now, datatype: 10, doubleValue: 1 }] });
    await pub.publishAsync(`spBv1.0/${o.group}/NDATA/invented-${i}`, Buffer.from(payload), { qos: 0 });
  }
  await sleep(o.settleMs);
  await pub.endAsync();
  await watcher.endAsync();
  return requests;
}

/**
 * A real node is born with `bdSeq`; then a forger sends NDEATH with every bdSeq 0…255 (and the
 * right one among them), and then the same deaths again.
 */
export async function spoofedDeaths(o: { url: string; group: string; node: string; bdSeq: number }): Promise<void> {
  const now = Date.now();
  const node = await mqtt.connectAsync(o.url, { clientId: `edge-${o.node}`, reconnectPeriod: 0 });
  const birth = encodePayload({
    timestamp: now,
    seq: 0,
    metrics: [
      { name: 'bdSeq', timestamp: now, datatype: 8, longValue: o.bdSeq },
      { name: 'temp', timestamp: now, datatype: 10, doubleValue: 20 },
    ],
  });
  await node.publishAsync(`spBv1.0/${o.group}/NBIRTH/${o.node}`, Buffer.from(birth), { qos: 1 });
  const forger = await mqtt.connectAsync(o.url, { clientId: `forger-death-${process.pid}`, reconnectPeriod: 0 });
  for (let round = 0; round < 2; round++)
    for (let guess = 0; guess < 256; guess++) {
      const death = encodePayload({ timestamp: now, metrics: [{ name: 'bdSeq', timestamp: now, datatype: 8, longValue: guess }] });
      await forger.publishAsync(`spBv1.0/${o.group}/NDEATH/${o.node}`, Buffer.from(death), { qos: 1 });
    }
  await forger.endAsync();
  await node.endAsync();
}
