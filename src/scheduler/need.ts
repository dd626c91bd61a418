import type { Normalisation } from '../features/normalize.js';
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
}

/** Whether a run is worth its energy, and why. `forced` runs ignore the window, idleness and budget. */
export interface Need {
  reason: string | null;
  forced: boolean;
  failures: number;
  drift: { sensor: string; sigmas: number } | null;
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
  const failures = (await store.queryEvents({ from: i.now - o.lookbackMs, to: i.now + 1, types: ['failure'] })).length;
  const none = (reason: string | null): Need => ({ reason, forced: false, failures, drift: null });
  if (!i.champion) {
    if (failures < o.minFailures) return none(null);
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
  if (i.lastRun && i.now - i.lastRun.startedAt < o.minIntervalMs) return none(null);
  // Counted, not compared by time: replayed data carries timestamps from the past.
  const fresh = failures - (i.lastRun?.failuresLabelled ?? 0);
  if (o.minNewFailures > 0 && fresh >= o.minNewFailures) return none(`${fresh} new failure${fresh === 1 ? '' : 's'} since the last run`);
  const drift = await measureDrift(store, i.champion.normalisation, o.driftWindowMs);
  if (drift && drift.sigmas >= o.driftThreshold)
    return { ...none(`recent ${drift.sensor} drifted ${drift.sigmas.toFixed(2)} training standard deviations`), drift };
  return { ...none(null), drift };
}

/**
 * The largest shift of a sensor's recent mean (each machine's last `windowMs` of data, up to 20
 * machines) from the champion's training mean, in training standard deviations.
 */
export async function measureDrift(
  store: Pick<SensorStore, 'listMachines' | 'queryReadings'>,
  norm: Normalisation,
  windowMs: number,
): Promise<{ sensor: string; sigmas: number } | null> {
  const sum = new Float64Array(norm.sensors.length);
  const n = new Float64Array(norm.sensors.length);
  const machines = (await store.listMachines()).filter((m) => m.lastTs !== null).slice(0, 20);
  for (const m of machines) {
    const samples = await store.queryReadings({
      machine: m.ref.machine,
      from: m.lastTs! - windowMs,
      to: m.lastTs! + 1,
      sensors: norm.sensors,
      limit: 5000,
    });
    for (const s of samples) {
      norm.sensors.forEach((name, f) => {
        const v = s.values[name];
        if (v !== undefined) {
          sum[f]! += v;
          n[f]!++;
        }
      });
    }
  }
  let worst: { sensor: string; sigmas: number } | null = null;
  norm.sensors.forEach((sensor, f) => {
    if (n[f]! < 10) return;
    const sigmas = Math.abs(sum[f]! / n[f]! - norm.mean[f]!) / (norm.std[f]! || 1);
    if (!worst || sigmas > worst.sigmas) worst = { sensor, sigmas };
  });
  return worst;
}
