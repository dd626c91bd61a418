import { channels, type Normalisation, regimeOfValues } from '../features/index.js';
import type { SensorStore } from '../core/sensor-store.js';

export interface NeedOptions {
  minFailures: number;
  minNewFailures: number;
  minIntervalMs: number;
  driftThreshold: number;
  driftWindowMs: number;
  maxModelAgeMs: number;
  lookbackMs: number;
}

export interface NeedInputs {
  now: number;
  lastRun: { startedAt: number; failuresLabelled: number | null } | null;
  champion: { createdAt: number; normalisation: Normalisation } | null;
  /** The machines of the kind this need is for; all machines when absent. */
  machines?: ReadonlySet<string>;
  /** The lookback's failure events, read once for every kind's need; read here when absent. */
  failureEvents?: ReadonlyArray<{ machine: { machine: string } }>;
}

/** Whether a run is worth its energy, and why. `forced` runs ignore the window, idleness and budget. */
export interface Need {
  reason: string | null;
  forced: boolean;
  failures: number;
  drift: { sensor: string; sigmas: number; regime?: number } | null;
  /** When there is no reason: what held back a run that would otherwise have had one (minInterval). */
  heldBack?: string;
}

/**
 * Why train at all: enough labelled failures for a first model; new failures since the last run;
 * recent data drifted from what the champion was trained on; or the champion is older than its
 * maximum age (forced). No new reason → no run, whatever the electricity costs.
 */
export async function assessNeed(
  store: Pick<SensorStore, 'queryEvents' | 'listMachines' | 'queryReadings'>,
  i: NeedInputs,
  o: NeedOptions,
): Promise<Need> {
  const failures = (i.failureEvents ?? (await store.queryEvents({ from: i.now - o.lookbackMs, to: i.now + 1, types: ['failure'] }))).filter(
    (e) => !i.machines || i.machines.has(e.machine.machine),
  ).length;
  const none = (reason: string | null): Need => ({ reason, forced: false, failures, drift: null });
  if (!i.champion) {
    if (failures < o.minFailures) return none(null);
    // A run on the same failures that promoted nothing (too few to validate) would only do so again:
    // wait for new failures, or for minInterval in case that run failed for another reason.
    const seen = i.lastRun?.failuresLabelled ?? null;
    if (i.lastRun && seen !== null && failures <= seen && i.now - i.lastRun.startedAt < o.minIntervalMs)
      return {
        ...none(null),
        heldBack: `the last run on these ${failures} failures promoted nothing: waiting for a new failure, or minInterval until ${new Date(i.lastRun.startedAt + o.minIntervalMs).toISOString()}`,
      };
    return none(`${failures} labelled failures and no model yet`);
  }
  const ageMs = i.now - i.champion.createdAt;
  if (ageMs > o.maxModelAgeMs && failures > 0)
    return {
      reason: `the champion is ${(ageMs / 86_400_000).toFixed(1)} days old (limit ${(o.maxModelAgeMs / 86_400_000).toFixed(1)})`,
      forced: true,
      failures,
      drift: null,
    };
  // Counted, not compared by time: replayed data carries timestamps from the past.
  const fresh = failures - (i.lastRun?.failuresLabelled ?? 0);
  if (i.lastRun && i.now - i.lastRun.startedAt < o.minIntervalMs) {
    const until = new Date(i.lastRun.startedAt + o.minIntervalMs).toISOString();
    return {
      ...none(null),
      heldBack:
        o.minNewFailures > 0 && fresh >= o.minNewFailures
          ? `minInterval holds back ${fresh} new failure${fresh === 1 ? '' : 's'} until ${until}`
          : `minInterval: the last run started less than ${Math.round(o.minIntervalMs / 60_000)} min ago (next possible ${until})`,
    };
  }
  if (o.minNewFailures > 0 && fresh >= o.minNewFailures) return none(`${fresh} new failure${fresh === 1 ? '' : 's'} since the last run`);
  const drift = await measureDrift(store, i.champion.normalisation, o.driftWindowMs, i.machines);
  if (drift && drift.sigmas >= o.driftThreshold)
    return {
      ...none(
        `recent ${drift.sensor} drifted ${drift.sigmas.toFixed(2)} training standard deviations${drift.regime ? ` in regime ${drift.regime}` : ''}`,
      ),
      drift,
    };
  return { ...none(null), drift };
}

/**
 * Each machine's last `windowMs` of readings of `sensors` (up to 20 machines, of `only` when given,
 * 5,000 readings each), one machine at a time.
 */
async function forEachRecentReading(
  store: Pick<SensorStore, 'listMachines' | 'queryReadings'>,
  sensors: string[],
  windowMs: number,
  visit: (values: Readonly<Record<string, number>>) => void,
  only?: ReadonlySet<string>,
): Promise<void> {
  const machines = (await store.listMachines()).filter((m) => m.lastTs !== null && (!only || only.has(m.ref.machine))).slice(0, 20);
  for (const m of machines) {
    const samples = await store.queryReadings({
      machine: m.ref.machine,
      from: m.lastTs! - windowMs,
      to: m.lastTs! + 1,
      sensors,
      limit: 5000,
    });
    for (const s of samples) visit(s.values);
  }
}

/**
 * The largest shift of a sensor's recent mean (each machine's last `windowMs` of data, up to 20
 * machines) from the champion's training mean, in training standard deviations. With operating
 * regimes, each reading is compared with its own regime's statistics: a plant running more at full
 * load than in training is a change of mix, not drift.
 */
export async function measureDrift(
  store: Pick<SensorStore, 'listMachines' | 'queryReadings'>,
  norm: Normalisation,
  windowMs: number,
  only?: ReadonlySet<string>,
): Promise<{ sensor: string; sigmas: number; regime?: number } | null> {
  const S = norm.sensors.length;
  const regimes = norm.regimes;
  const K = regimes ? regimes.model.centroids.length : 1;
  // [regime][sensor]; with regimes, readings whose conditions are missing are left out.
  const sum = new Float64Array(K * S);
  const n = new Float64Array(K * S);
  await forEachRecentReading(
    store,
    channels(norm),
    windowMs,
    (values) => {
      const r = regimes ? regimeOfValues(regimes.model, values) : 0;
      if (r < 0) return;
      norm.sensors.forEach((name, f) => {
        const v = values[name];
        if (v !== undefined) {
          sum[r * S + f]! += v;
          n[r * S + f]!++;
        }
      });
    },
    only,
  );
  let worst: { sensor: string; sigmas: number; regime?: number } | null = null;
  for (let r = 0; r < K; r++) {
    const mean = regimes ? regimes.mean[r]! : norm.mean;
    const std = regimes ? regimes.std[r]! : norm.std;
    norm.sensors.forEach((sensor, f) => {
      const i = r * S + f;
      if (n[i]! < 10) return;
      const sigmas = Math.abs(sum[i]! / n[i]! - mean[f]!) / (std[f]! || 1);
      if (!worst || sigmas > worst.sigmas) worst = regimes ? { sensor, sigmas, regime: r + 1 } : { sensor, sigmas };
    });
  }
  return worst;
}

/**
 * Share of recent readings (each machine's last `windowMs`, up to 20 machines) in each of the
 * model's regimes; null without regimes or without readings whose conditions are known.
 */
export async function liveRegimeShare(
  store: Pick<SensorStore, 'listMachines' | 'queryReadings'>,
  norm: Normalisation,
  windowMs: number,
  only?: ReadonlySet<string>,
): Promise<number[] | null> {
  const regimes = norm.regimes;
  if (!regimes) return null;
  const counts = new Array<number>(regimes.model.centroids.length).fill(0);
  let total = 0;
  await forEachRecentReading(
    store,
    regimes.model.conditions,
    windowMs,
    (values) => {
      const r = regimeOfValues(regimes.model, values);
      if (r < 0) return;
      counts[r]!++;
      total++;
    },
    only,
  );
  return total > 0 ? counts.map((c) => c / total) : null;
}
