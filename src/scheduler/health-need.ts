import type { SensorStore } from '../core/sensor-store.js';

export interface HealthNeedOptions {
  minNormalMs: number;
  minMachines: number;
  /** The run's window, stride (in steps), step and held-out share: what its split needs of the hours. */
  windowSteps: number;
  stride: number;
  stepMs: number;
  holdOut: number;
  /** Normal windows a run needs on each side of its split. */
  minWindows: number;
  minNewNormalMs: number;
  maxAgeMs: number;
  minIntervalMs: number;
  lookbackMs: number;
}

export interface HealthNeedInputs {
  now: number;
  /** The kind's machines with their sensors (one of each is enough to tell operating hours). */
  machines: ReadonlyArray<{ machine: string; sensor: string }>;
  champion: { createdAt: number } | null;
  lastRun: { startedAt: number } | null;
  /** Verdicts on the kind's anomaly alerts since its last health run. */
  newVerdicts: number;
}

export interface HealthNeed {
  reason: string | null;
  /** Without a model: how far the kind is from its first ("learning normal: 9 h of 24 h"). */
  progress: string | null;
}

/** Machines whose hours are counted at most: a kind reaches its first model long before a fleet is walked. */
const MAX_MACHINES_READ = 50;

/**
 * Hours a machine sent data in [from, to): hourly buckets of one sensor, counted in the store (one
 * grouped query per machine, on the store's reader). Failures are left out by the run, not here:
 * this is what tells a run is worth starting, the run counts exactly.
 */
async function operatingHours(store: Pick<SensorStore, 'aggregateReadings'>, machine: string, sensor: string, from: number, to: number) {
  const buckets = await store.aggregateReadings({ machine, from, to, sensors: [sensor] }, 3_600_000);
  return buckets.length;
}

/**
 * Why train a kind's health model: a kind without one has enough normal operation for its first; a
 * champion is older than its maximum age; enough new operation, or new verdicts, since the last run.
 */
export async function assessHealthNeed(
  store: Pick<SensorStore, 'aggregateReadings'>,
  i: HealthNeedInputs,
  o: HealthNeedOptions,
): Promise<HealthNeed> {
  const machines = i.machines.slice(0, MAX_MACHINES_READ);
  if (!i.champion) {
    // A machine's first window of data fills the window; what follows is normal windows, as the run counts them.
    const windowHours = (o.windowSteps * o.stepMs) / 3_600_000;
    const usable: number[] = [];
    for (const m of machines) {
      const h = await operatingHours(store, m.machine, m.sensor, i.now - o.lookbackMs, i.now + 1);
      if (h > 0) usable.push(Math.max(0, h - windowHours));
      if (firstModelShortOf(usable, o) === null) break;
    }
    const short = firstModelShortOf(usable, o);
    if (short !== null) return { reason: null, progress: `learning normal: ${short}` };
    const hours = Math.round(usable.reduce((a, h) => a + h, 0));
    if (i.lastRun && i.now - i.lastRun.startedAt < o.minIntervalMs) return { reason: null, progress: 'first health model on its way' };
    return { reason: `${hours} h of normal operation and no health model yet`, progress: null };
  }
  if (i.lastRun && i.now - i.lastRun.startedAt < o.minIntervalMs) return { reason: null, progress: null };
  const age = i.now - i.champion.createdAt;
  if (age > o.maxAgeMs) return { reason: `the health model is ${(age / 86_400_000).toFixed(1)} days old`, progress: null };
  if (i.newVerdicts > 0)
    return { reason: `${i.newVerdicts} verdict${i.newVerdicts === 1 ? '' : 's'} on its anomaly alerts since the last run`, progress: null };
  const since = Math.max(i.lastRun?.startedAt ?? i.champion.createdAt, i.now - o.lookbackMs);
  let hours = 0;
  for (const m of machines) {
    hours += await operatingHours(store, m.machine, m.sensor, since, i.now + 1);
    if (hours * 3_600_000 >= o.minNewNormalMs) return { reason: `${hours} h of new operation since the last health run`, progress: null };
  }
  return { reason: null, progress: null };
}

/**
 * What a kind still lacks for its first health model, as the page says it, or null: the configured
 * hours on enough machines, and the windows the run's split needs on each side (with fewer than five
 * machines each machine's latest share is held out, a window's length apart from what trains).
 */
function firstModelShortOf(usableHours: readonly number[], o: HealthNeedOptions): string | null {
  const hours = usableHours.reduce((a, h) => a + h, 0);
  const need = Math.round(o.minNormalMs / 3_600_000);
  const machines = usableHours.filter((h) => h > 0).length;
  const more = machines < o.minMachines ? ` on ${o.minMachines} machines (${machines} so far)` : '';
  if (hours * 3_600_000 < o.minNormalMs || machines < o.minMachines) return `${Math.floor(hours)} h of ${need} h${more}`;
  const steps = usableHours.map((h) => (h * 3_600_000) / o.stepMs);
  const byMachine = steps.length >= 5;
  const train = steps.reduce(
    (n, k) => n + Math.max(0, byMachine ? k * (1 - o.holdOut) : k * (1 - o.holdOut) - o.windowSteps) / o.stride,
    0,
  );
  const calibrate = steps.reduce((n, k) => n + k * o.holdOut, 0);
  if (train >= o.minWindows && calibrate >= o.minWindows) return null;
  return `${Math.floor(hours)} h, enough for ${Math.floor(Math.min(train, calibrate))} of the ${o.minWindows} windows a first model needs on each side`;
}
