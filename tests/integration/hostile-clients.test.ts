/**
 * A running daemon (`vigil start`, a child process on the embedded broker and SQLite) against what a
 * hostile local client or a careless integrator sends before logging in, and against expensive
 * anonymous reads: its memory stays within 50 MB of idle, every client gets an answer, and the
 * daemon stays ready. The same scenarios, with their latency figures, are `npm run bench:attack`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginBurst, readBurst, rssMb, rssSampler, unfinishedConnects } from '../../bench/lib/attacks.js';
import { freePort } from '../../bench/lib/services.js';
import { hashPassword } from '../../src/ingest/broker-auth.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../support/fixtures.js';
import { waitForReady, waitUntil } from '../support/influx.js';

const CLI = path.resolve('dist/src/cli.js');
let child: ChildProcess;
let http = '';
let mqttPort = 0;

interface Status {
  broker: { embeddedRefused: Record<string, number>; embeddedUnauthenticated: number };
  store: { readsRefused: number };
}
const status = async () => (await (await fetch(`${http}/api/v1/status`)).json()) as Status;

beforeAll(async () => {
  const dir = tempDir('vigil-hostile-');
  // One machine with 100,000 samples of 14 sensors over the last day and more.
  const seed = new SqliteSensorStore(path.join(dir, 'data', 'sensors.db'));
  await seed.open();
  const t0 = Date.now() - 100_000_000;
  for (let b = 0; b < 100; b++)
    await seed.write({
      samples: Array.from({ length: 1000 }, (_, i) => ({
        machine: { site: 'plant', line: 'l1', machine: 'big' },
        ts: t0 + (b * 1000 + i) * 1000,
        values: Object.fromEntries(Array.from({ length: 14 }, (_, s) => [`s${s}`, i + s])),
      })),
      events: [],
    });
  await seed.close();
  const httpPort = await freePort();
  mqttPort = await freePort();
  const file = path.join(dir, 'vigil.json');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      log: { level: 'error' },
      http: { port: httpPort },
      learning: { modelsDir: path.join(dir, 'models') },
      schedule: { enabled: false },
      mqtt: {
        embedded: {
          port: mqttPort,
          allowAnonymous: true,
          users: [{ username: 'line1', passwordHash: await hashPassword('the right one') }],
          // A short deadline keeps the test short; the caps are the defaults.
          preLogin: { timeout: '2s' },
        },
      },
      api: { heavyReads: { concurrency: 2, maxQueued: 4 } },
    }),
  );
  // As `npm start` runs it.
  child = spawn(process.execPath, ['--max-old-space-size=192', '--max-semi-space-size=8', CLI, 'start', '-c', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForReady(httpPort, 60_000);
  http = `http://127.0.0.1:${httpPort}`;
  // One read first: it starts the store's reader thread, which then belongs to idle.
  await fetch(`${http}/api/v1/machines/big/readings?from=-1m`);
});

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

/** The daemon's memory: idle before `attack`, its peak during, and the rise over idle. */
async function memoryDuring<T>(attack: () => Promise<T>): Promise<{ result: T; rise: number }> {
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssMb(child.pid!);
  const sampler = rssSampler(child.pid!);
  const result = await attack();
  const { peakMb } = sampler.stop();
  return { result, rise: peakMb - idle };
}

describe('a daemon against clients that never log in, guess passwords or read ten years', () => {
  it('300 sockets each sending most of a 1 MiB CONNECT: each is dropped at its header, memory stays within 50 MB of idle', async () => {
    const { result: closed, rise } = await memoryDuring(() =>
      unfinishedConnects({ port: mqttPort, sockets: 300, announceBytes: 1 << 20, holdMs: 2000 }),
    );
    expect(closed).toBe(300);
    expect(rise).toBeLessThan(50);
    // Dropped at the header, or at the door when 32 from this address were already being read.
    const refused = (await status()).broker.embeddedRefused;
    expect((refused.connect_too_large ?? 0) + (refused.too_many_unauthenticated ?? 0)).toBe(300);
    expect(refused.connect_too_large).toBeGreaterThan(0);
  });

  it('300 slow CONNECTs: a few wait (32 from one address), the rest are refused, the waiting ones closed at the deadline', async () => {
    const before = (await status()).broker.embeddedRefused;
    // Held well past the 2 s deadline, so the broker closes the waiting ones itself.
    const { result: closed, rise } = await memoryDuring(() =>
      unfinishedConnects({ port: mqttPort, sockets: 300, announceBytes: 16_000, holdMs: 5000 }),
    );
    expect(rise).toBeLessThan(50);
    await waitUntil(async () => (await status()).broker.embeddedUnauthenticated === 0, 10_000, 'pre-login connections closed');
    const after = (await status()).broker.embeddedRefused;
    const delta = (reason: string) => (after[reason] ?? 0) - (before[reason] ?? 0);
    expect(delta('too_many_unauthenticated')).toBe(268);
    expect(delta('login_timeout')).toBe(32);
    expect(closed).toBe(300);
  });

  it('400 wrong-password logins, 20 at a time: each answered, memory stays within 50 MB of idle', async () => {
    const { result: codes, rise } = await memoryDuring(() =>
      loginBurst({ port: mqttPort, attempts: 400, username: 'line1', inFlight: 20 }),
    );
    // Wrong password (4), or busy (3) when the queue of checks was full: never left hanging.
    expect((codes['4'] ?? 0) + (codes['3'] ?? 0)).toBe(400);
    expect(rise).toBeLessThan(50);
    const ok = await loginBurst({ port: mqttPort, attempts: 1, username: 'line1' });
    expect(ok['4']).toBe(1);
  });

  it('20 anonymous clients reading ten years at once: bucket means or 503 with Retry-After, and the daemon stays ready', async () => {
    const url = `${http}/api/v1/machines/big/readings?from=-3650d&points=500`;
    const codes = await readBurst({ url, clients: 20, requests: 2 });
    expect((codes['200'] ?? 0) + (codes['503'] ?? 0)).toBe(40);
    expect(codes['503']).toBeGreaterThan(0);
    expect((await status()).store.readsRefused).toBe(codes['503']);
    const busy = await Promise.all(Array.from({ length: 10 }, () => fetch(url)));
    const refusal = busy.find((r) => r.status === 503);
    expect(refusal?.headers.get('retry-after')).toBe('2');
    expect(((await refusal!.json()) as { error: { code: string } }).error.code).toBe('VGL_BUSY');
    const answer = busy.find((r) => r.status === 200);
    const body = (await answer!.json()) as { everyMs: number; points: Array<{ values: Record<string, number> }> };
    expect(body.everyMs).toBe(Math.ceil((3650 * 86_400_000) / 500));
    expect(body.points.length).toBeGreaterThan(0);
    expect((await fetch(`${http}/readyz`)).status).toBe(200);
  });
});
