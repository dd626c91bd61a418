/**
 * Aggregation of the gateways' weight updates (changes from the round's global weights): FedAvg
 * weighted by samples (McMahan et al. 2017), or coordinate-wise median / trimmed mean (Yin et al.
 * 2018), which a few bad or poisoned updates cannot drag far. Updates are screened first.
 */
import type { RefusalReason } from './wire.js';

export type Aggregation = 'fedavg' | 'median' | 'trimmed-mean';

export interface ClientUpdate {
  client: string;
  samples: number;
  delta: Float32Array;
}

export interface Screened {
  accepted: ClientUpdate[];
  refused: Array<{ client: string; reason: RefusalReason; detail: string }>;
}

export function l2(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * Refuses updates of the wrong length, with non-finite values, or whose norm is more than
 * `normFactor` times the median of the others (needs three updates to have a median worth the name).
 */
export function screenUpdates(updates: readonly ClientUpdate[], size: number, normFactor: number): Screened {
  const refused: Screened['refused'] = [];
  const shaped = updates.filter((u) => {
    if (u.delta.length !== size) {
      refused.push({ client: u.client, reason: 'wrong-shape', detail: `${u.delta.length} weights, the model has ${size}` });
      return false;
    }
    const bad = u.delta.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      refused.push({ client: u.client, reason: 'non-finite', detail: `weight ${bad} is ${u.delta[bad]}` });
      return false;
    }
    return true;
  });
  if (shaped.length < 3) return { accepted: shaped, refused };
  const norms = shaped.map((u) => l2(u.delta));
  const accepted = shaped.filter((u, i) => {
    const others = norms.filter((_, j) => j !== i);
    const median = medianOf(others);
    if (median > 0 && norms[i]! > normFactor * median) {
      refused.push({
        client: u.client,
        reason: 'norm-outlier',
        detail: `update norm ${norms[i]!.toPrecision(3)} is over ${normFactor}× the others' median ${median.toPrecision(3)}`,
      });
      return false;
    }
    return true;
  });
  return { accepted, refused };
}

/** The aggregate update; `trim` is the share cut from each end for the trimmed mean. */
export function aggregate(updates: readonly ClientUpdate[], how: Aggregation, trim = 0.2): Float32Array {
  if (updates.length === 0) throw new Error('nothing to aggregate');
  const size = updates[0]!.delta.length;
  const out = new Float32Array(size);
  if (how === 'fedavg') {
    const total = updates.reduce((n, u) => n + u.samples, 0);
    for (const u of updates) {
      const w = u.samples / total;
      for (let i = 0; i < size; i++) out[i]! += w * u.delta[i]!;
    }
    return out;
  }
  const n = updates.length;
  const column = new Float64Array(n);
  const cut = how === 'trimmed-mean' ? Math.min(Math.floor(n * trim), Math.floor((n - 1) / 2)) : 0;
  for (let i = 0; i < size; i++) {
    for (let c = 0; c < n; c++) column[c] = updates[c]!.delta[i]!;
    column.sort();
    if (how === 'median') out[i] = n % 2 ? column[(n - 1) / 2]! : (column[n / 2 - 1]! + column[n / 2]!) / 2;
    else {
      let s = 0;
      for (let c = cut; c < n - cut; c++) s += column[c]!;
      out[i] = s / (n - 2 * cut);
    }
  }
  return out;
}

function medianOf(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return 0;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
