import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InferenceClient } from './inference-client.js';

/** A champion that failed to load is tried again after this pause, not on every 50 ms tick. */
const RETRY_MS = 60_000;

/**
 * Which champions (of every role) the inference worker holds: one is loaded beside the others still
 * serving before its first batch; one that fails to load waits a minute before the next try.
 */
export class ModelLoader {
  private readonly loaded = new Set<string>();
  private readonly failedAt = new Map<string, number>();
  loadedAt: number | null = null;

  constructor(
    private readonly inference: InferenceClient,
    private readonly modelsDir: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** A crashed worker lost its models: everything is loaded again. */
  forgetIfRestarted(): void {
    if (!this.inference.started) this.loaded.clear();
  }

  /** Whether `version` is ready to score with; `keep` are the versions that must stay loaded beside it. */
  async ensure(version: string, kind: string, keep: readonly string[], onFailure: (message: string) => void): Promise<boolean> {
    if (this.loaded.has(version)) return true;
    const failedAt = this.failedAt.get(version);
    if (failedAt !== undefined && this.clock.now() - failedAt < RETRY_MS) return false;
    const reply = await this.inference
      .request({ type: 'load', modelsDir: this.modelsDir, version, keep: [...keep] })
      .catch((err: unknown) => ({ type: 'error' as const, id: 0, message: errorMessage(err) }));
    if (reply.type === 'error') {
      this.failedAt.set(version, this.clock.now());
      onFailure(reply.message);
      this.log.error({ version, reason: reply.message }, 'cannot load champion; retrying in a minute');
      return false;
    }
    this.failedAt.delete(version);
    for (const v of this.loaded) if (!keep.includes(v)) this.loaded.delete(v);
    this.loaded.add(version);
    this.loadedAt = this.clock.now();
    this.log.info({ version, kind }, 'scoring with champion');
    return true;
  }
}
