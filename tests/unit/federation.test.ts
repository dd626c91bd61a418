import { describe, expect, it } from 'vitest';
import { aggregate, l2, screenUpdates } from '../../src/federation/aggregate.js';
import type { Stats } from '../../src/federation/messages.js';
import { addGaussianNoise, clipUpdate, privacyLoss } from '../../src/federation/privacy.js';
import { mergeMoments, momentsProblem, normalisationFromMoments, segmentMoments } from '../../src/federation/stats.js';
import { Rng } from '../../src/core/random.js';
import { fitNormalisation } from '../../src/features/normalize.js';
import { decodeFrame, encodeFrame, FrameError } from '../../src/federation/wire.js';

const key = Buffer.from('a federation key of thirty-two bytes!!');
const stats: Stats = {
  type: 'stats',
  federation: 'plant',
  kind: 'pump',
  session: 's1',
  client: 'gw1',
  sensors: ['t'],
  count: [3],
  mean: [1],
  m2: [2],
  machines: 1,
  failures: 1,
};

function reason(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof FrameError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('federation wire', () => {
  it('round-trips a signed frame with its weights', () => {
    const body = new Float32Array([1.5, -2, 3]);
    const f = decodeFrame(encodeFrame(stats, body, key), key, 1 << 20);
    expect(f.header).toEqual(stats);
    expect(Array.from(f.body)).toEqual([1.5, -2, 3]);
  });

  it('tells a forged frame from a damaged one and refuses both', () => {
    const frame = encodeFrame(stats, new Float32Array([1]), key);
    expect(reason(() => decodeFrame(encodeFrame(stats, null, Buffer.from('another key, also long enough to use')), key, 1 << 20))).toBe(
      'bad-signature',
    );
    const damaged = Buffer.from(frame);
    damaged[20]! ^= 0xff;
    expect(reason(() => decodeFrame(damaged, key, 1 << 20))).toBe('corrupt');
    expect(reason(() => decodeFrame(frame.subarray(0, 40), key, 1 << 20))).toBe('truncated');
    expect(reason(() => decodeFrame(frame, key, 10))).toBe('too-large');
    expect(reason(() => decodeFrame(encodeFrame({ ...stats, count: [-1] }, null, key), key, 1 << 20))).toBe('bad-header');
    expect(reason(() => decodeFrame(encodeFrame(stats, new Float32Array([NaN]), key), key, 1 << 20))).toBe('non-finite');
  });
});

describe('federated aggregation', () => {
  const u = (client: string, samples: number, v: number[]) => ({ client, samples, delta: new Float32Array(v) });

  it('FedAvg weights by samples; the median ignores one wild update', () => {
    const ups = [u('a', 1, [0, 0]), u('b', 3, [4, 4]), u('c', 1, [100, 100])];
    expect(Array.from(aggregate(ups.slice(0, 2), 'fedavg'))).toEqual([3, 3]);
    expect(Array.from(aggregate(ups, 'median'))).toEqual([4, 4]);
  });

  it('refuses wrong shapes and norm outliers with their reasons', () => {
    const s = screenUpdates([u('a', 1, [1, 0]), u('b', 1, [0, 1]), u('c', 1, [1, 1]), u('d', 1, [500, 0]), u('e', 1, [1])], 2, 10);
    expect(s.accepted.map((x) => x.client)).toEqual(['a', 'b', 'c']);
    expect(s.refused.map((r) => [r.client, r.reason])).toEqual([
      ['e', 'wrong-shape'],
      ['d', 'norm-outlier'],
    ]);
  });

  it('accounts privacy loss over rounds', () => {
    const one = privacyLoss(1, 1, 1e-5).epsilon;
    expect(privacyLoss(1, 4, 1e-5).epsilon).toBeGreaterThan(one);
    expect(privacyLoss(0, 1, 1e-5).epsilon).toBe(Infinity);
  });

  it('clips an update to C and adds noise of sd z·C that no seed reproduces', () => {
    const delta = new Float32Array(20_001).fill(0.1);
    expect(clipUpdate(delta, 1)).toBeCloseTo(0.1 * Math.sqrt(20_001), 3);
    expect(l2(delta)).toBeCloseTo(1, 4);
    const a = new Float32Array(20_001);
    const b = new Float32Array(20_001);
    addGaussianNoise(a, 0.5, 2);
    addGaussianNoise(b, 0.5, 2);
    const mean = a.reduce((n, v) => n + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((n, v) => n + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan(0.97);
    expect(sd).toBeLessThan(1.03);
    expect(a.some((v, i) => v !== b[i])).toBe(true);
    expect(a.every(Number.isFinite)).toBe(true);
  });
});

describe('federated normalisation', () => {
  it('merged moments equal the moments of all the data', () => {
    const seg = (values: number[]) => ({
      machine: 'm',
      startTs: 0,
      stepMs: 1,
      sensors: ['t'],
      steps: values.length,
      data: new Float32Array(values),
    });
    const a = segmentMoments([seg([1, 2, 3])], ['t']);
    const b = segmentMoments([seg([10, 20])], ['t']);
    const all = segmentMoments([seg([1, 2, 3, 10, 20])], ['t']);
    const merged = mergeMoments([a, b]);
    expect(merged.mean[0]).toBeCloseTo(all.mean[0]!, 9);
    expect(merged.m2[0]).toBeCloseTo(all.m2[0]!, 6);
    expect(normalisationFromMoments(merged, ['t', 'missing']).dropped).toEqual(['missing']);
  });

  it('smoothed inputs: statistics from two gateways equal the ones fitted on all their data', () => {
    const rng = new Rng(7);
    const seg = (machine: string, n: number, level: number) => ({
      machine,
      startTs: 0,
      stepMs: 1,
      sensors: ['t', 'p'],
      steps: n,
      data: Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? level + 0.1 * (i >> 1) + 3 * rng.normal() : 2 + rng.normal())),
    });
    const [a, b] = [[seg('a1', 120, 50), seg('a2', 80, 52)], [seg('b1', 150, 48)]];
    const gateway = (segs: ReturnType<typeof seg>[]) => ({
      ...segmentMoments(segs, ['t', 'p']),
      smoothed: segmentMoments(segs, ['t', 'p'], 0.3),
    });
    const parts = [gateway(a!), gateway(b!)];
    const norm = normalisationFromMoments(mergeMoments(parts), ['t', 'p'], {
      alpha: 0.3,
      moments: mergeMoments(parts.map((p) => p.smoothed)),
    });
    const pooled = fitNormalisation([...a!, ...b!], ['t', 'p'], undefined, 0.3);
    expect(norm.smoothing!.alpha).toBe(0.3);
    for (const key of ['mean', 'std'] as const) {
      norm[key].forEach((v, f) => expect(v).toBeCloseTo(pooled[key][f]!, 6));
      norm.smoothing![key].forEach((v, f) => expect(v).toBeCloseTo(pooled.smoothing![key][f]!, 6));
    }
    // Without the smoothing, the plain statistics as before.
    expect(normalisationFromMoments(mergeMoments(parts), ['t', 'p'])).not.toHaveProperty('smoothing');
    expect(momentsProblem({ ...stats, smoothed: { count: [], mean: [], m2: [] } })).toBe('1 sensors but smoothed moments for 0, 0, 0');
  });
});
