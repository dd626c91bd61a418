/** Capped exponential backoff: the wait doubles with each failure up to a maximum. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * Spread added to each wait as a share of it (0 none, 0.2 = up to 20 % more), so that many
   * clients or deliveries failing together do not all retry at the same instant.
   */
  jitter?: number;
  /** 0..1; Math.random when absent (tests pass their own). */
  random?: () => number;
}

/** The wait before the next try after `failures` failures in a row (1 = the first failure). */
export function backoffDelay(failures: number, o: BackoffOptions): number {
  const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.max(0, failures - 1));
  const jitter = o.jitter ?? 0;
  return jitter > 0 ? Math.round(base * (1 + jitter * (o.random?.() ?? Math.random()))) : base;
}
