/**
 * Time as every stage sees it. Production uses the system clock; tests pass a fake one (or
 * vitest's fake timers, which this default delegates to at call time) so nothing waits for real time.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export type TimerHandle = { unref?: () => unknown } | number | undefined;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** Resolves after `ms` on the given clock; timers are unref'd so they never hold the process open. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const h = clock.setTimeout(resolve, ms);
    if (typeof h === 'object' && h?.unref) h.unref();
  });
}
