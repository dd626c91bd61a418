import { Worker } from 'node:worker_threads';
import { LoginGate } from './login-gate.js';
import { parsePasswordHash } from './broker-auth.js';

/**
 * The thread that runs scrypt. CommonJS given as source, so it runs the same from src/ (tests) and
 * dist/ (the daemon) without a compiled file of its own.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync, timingSafeEqual } = require('node:crypto');
parentPort.on('message', (m) => {
  let ok = false;
  try {
    const key = scryptSync(m.password, Buffer.from(m.salt), m.expected.byteLength, { N: m.N, r: m.r, p: m.p, maxmem: 64 * 1024 * 1024 });
    ok = timingSafeEqual(key, Buffer.from(m.expected));
  } catch {
    ok = false;
  }
  parentPort.postMessage({ id: m.id, ok });
});`;

interface Pending {
  resolve: (ok: boolean) => void;
}

/**
 * Checks passwords against their scrypt hashes on threads of its own, `concurrency` of them, with
 * at most `maxQueued` checks waiting (LoginGate). Each scrypt check takes about 16 MiB: on libuv's
 * thread pool (crypto.scrypt) every pool thread ends up keeping that much in its own malloc arena,
 * and the pool is also the journal's and DNS's. Here the memory is that of `concurrency` threads,
 * and the pool stays free. Threads start with `warm()` (or at the first check) and end with `close()`.
 */
export class PasswordChecker {
  private readonly gate: LoginGate;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    private readonly concurrency: number,
    maxQueued: number,
    /** Checks in place of the scrypt threads (tests that must hold a check under way). */
    private readonly verify?: (password: string, stored: string) => Promise<boolean>,
  ) {
    this.gate = new LoginGate(concurrency, maxQueued);
  }

  /** Starts the threads now (at start-up) rather than at the first login, when a burst may be under way. */
  warm(): void {
    if (this.verify) return;
    while (this.all.length < this.concurrency) this.idle.push(this.spawn());
  }

  /** Whether `password` matches `stored`; null, without checking, when too many checks wait already. */
  check(password: string, stored: string): Promise<boolean | null> {
    return this.gate.run(() => this.run(password, stored));
  }

  get refused(): number {
    return this.gate.refused;
  }

  private run(password: string, stored: string): Promise<boolean> {
    if (this.verify) return this.verify(password, stored);
    const parsed = parsePasswordHash(stored);
    if (!parsed) return Promise.resolve(false);
    const worker = this.idle.pop() ?? this.spawn();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.pending.set(id, {
        resolve: (ok) => {
          this.idle.push(worker);
          resolve(ok);
        },
      });
      worker.postMessage({ id, password, salt: parsed.salt, expected: parsed.key, N: parsed.N, r: parsed.r, p: parsed.p });
    });
  }

  private spawn(): Worker {
    // The gate lets at most `concurrency` checks run, so at most that many threads are ever made.
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (m: { id: number; ok: boolean }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m.ok);
    });
    worker.on('error', () => this.failAll());
    this.all.push(worker);
    if (this.all.length > this.concurrency) throw new Error('password checker: more threads than its concurrency');
    return worker;
  }

  /** A crashed thread fails the checks under way (the logins are refused; clients retry). */
  private failAll(): void {
    for (const p of this.pending.values()) p.resolve(false);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.failAll();
    await Promise.all(this.all.splice(0).map((w) => w.terminate()));
    this.idle.length = 0;
  }
}
