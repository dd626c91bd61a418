import { Worker } from 'node:worker_threads';
import type { BackendPreference, LstmKernelPreference } from '../model/index.js';
import type { InferenceReply, InferenceRequest } from './inference-worker.js';

type Pending = { resolve: (r: InferenceReply) => void; reject: (e: Error) => void };
type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/**
 * The daemon's side of the inference worker: request/response over the message port. A crashed
 * worker fails what was pending and is started again on the next request (the model is reloaded by
 * the scoring service, which sees the failure).
 */
export class InferenceClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  crashes = 0;

  constructor(
    private readonly backend: BackendPreference,
    private readonly heapMb = 512,
    private readonly lstm: { kernel: LstmKernelPreference; threads: number } = { kernel: 'auto', threads: 0 },
  ) {}

  request(req: Without<InferenceRequest, 'id'>): Promise<InferenceReply> {
    const worker = this.ensure();
    const id = this.nextId++;
    return new Promise<InferenceReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const transfer = req.type === 'score' || req.type === 'health' ? [req.x.buffer as ArrayBuffer] : [];
      worker.postMessage({ ...req, id } as InferenceRequest, transfer);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('inference worker stopped'));
    await w?.terminate();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./inference-worker.js', import.meta.url), {
      workerData: { backend: this.backend, lstm: this.lstm },
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
    });
    worker.on('message', (r: InferenceReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      p.resolve(r);
    });
    const onDeath = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.crashes++;
      this.failAll(new Error(`inference worker ${why}`));
    };
    worker.on('error', (err) => onDeath(`crashed: ${err.message}`));
    worker.on('exit', (code) => onDeath(`exited with code ${code}`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** True while a crashed worker has not been replaced yet: the model must be loaded again. */
  get started(): boolean {
    return this.worker !== null;
  }
}
