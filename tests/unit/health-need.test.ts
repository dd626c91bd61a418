import { describe, expect, it } from 'vitest';
import { assessHealthNeed, type HealthNeedOptions } from '../../src/scheduler/health-need.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 5, 1);

/** A store whose machines each sent data for the given number of hours. */
const storeWith = (hours: Record<string, number>) => ({
  aggregateReadings: async (q: { machine: string }) => Array.from({ length: hours[q.machine] ?? 0 }, (_, i) => ({ ts: i * HOUR })),
});

const options: HealthNeedOptions = {
  minNormalMs: 24 * HOUR,
  minMachines: 2,
  windowSteps: 36,
  stride: 2,
  stepMs: 600_000,
  holdOut: 0.5,
  minWindows: 50,
  minNewNormalMs: 24 * HOUR,
  maxAgeMs: 7 * 24 * HOUR,
  minIntervalMs: 6 * HOUR,
  lookbackMs: 365 * 24 * HOUR,
};

const inputs = (machines: string[], over: Partial<Parameters<typeof assessHealthNeed>[1]> = {}) => ({
  now: NOW,
  machines: machines.map((machine) => ({ machine, sensor: 'a' })),
  champion: null,
  lastRun: null,
  newVerdicts: 0,
  ...over,
});

describe('when a kind needs a health model', () => {
  it('says how much normal operation its first one still needs, counting hours after each machine fills a window', async () => {
    // Two machines of 10 h: 4 h each after the 6-hour window fills.
    const need = await assessHealthNeed(storeWith({ a: 10, b: 10 }) as never, inputs(['a', 'b']), options);
    expect(need).toEqual({ reason: null, progress: 'learning normal: 8 h of 24 h' });
    const one = await assessHealthNeed(storeWith({ a: 60 }) as never, inputs(['a', 'b']), options);
    expect(one.progress).toBe('learning normal: 54 h of 24 h on 2 machines (1 so far)');
  });

  it('waits until the split has enough windows on both sides, then asks for a run', async () => {
    // 18 h each after filling: 24 h in all, but each machine's training half is shorter than a window.
    const short = await assessHealthNeed(storeWith({ a: 24, b: 24 }) as never, inputs(['a', 'b']), options);
    expect(short.reason).toBeNull();
    expect(short.progress).toMatch(/^learning normal: 36 h, enough for \d+ of the 50 windows a first model needs on each side$/);
    // Reading stops at the second machine: enough already.
    const enough = await assessHealthNeed(storeWith({ a: 40, b: 40, c: 40 }) as never, inputs(['a', 'b', 'c']), options);
    expect(enough).toEqual({ reason: '68 h of normal operation and no health model yet', progress: null });
  });

  it('retrains an existing model on age, on verdicts, or on enough new operation', async () => {
    const champion = { createdAt: NOW - 2 * 24 * HOUR };
    const lastRun = { startedAt: NOW - 24 * HOUR };
    const quiet = await assessHealthNeed(storeWith({ a: 5, b: 5 }) as never, inputs(['a', 'b'], { champion, lastRun }), options);
    expect(quiet).toEqual({ reason: null, progress: null });
    const judged = await assessHealthNeed(storeWith({}) as never, inputs(['a'], { champion, lastRun, newVerdicts: 2 }), options);
    expect(judged.reason).toBe('2 verdicts on its anomaly alerts since the last run');
    const old = await assessHealthNeed(
      storeWith({}) as never,
      inputs(['a'], { champion: { createdAt: NOW - 8 * 24 * HOUR }, lastRun }),
      options,
    );
    expect(old.reason).toMatch(/^the health model is 8\.0 days old$/);
    const busy = await assessHealthNeed(storeWith({ a: 13, b: 13 }) as never, inputs(['a', 'b'], { champion, lastRun }), options);
    expect(busy.reason).toBe('26 h of new operation since the last health run');
  });
});
