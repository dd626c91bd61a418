import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import type { Sample } from '../../src/core/types.js';
import { alignToGrid, type Segment } from '../../src/features/align.js';
import { applyNormalisation, channels, fitNormalisation, inputNames } from '../../src/features/normalize.js';
import { fitRegimes, regimeOfValues } from '../../src/features/regimes.js';
import { lastWindow } from '../../src/features/windows.js';
import { MachineWindow } from '../../src/scoring/machine-window.js';
import { measureDrift } from '../../src/scheduler/training-need.js';
import { M1 } from '../support/fixtures.js';

const STEP = 1000;
/** Three operating points (altitude-like, Mach-like), each setting its own sensor level. */
const POINTS = [
  { alt: 0, mach: 0.2, level: 100 },
  { alt: 20, mach: 0.7, level: 300 },
  { alt: 40, mach: 0.84, level: 600 },
];

/** Steps that change regime nearly every step, as FD002's cycles do; `wear` rises slowly on top. */
function regimeSamples(steps: number, seed: number, machine = M1, pick?: (k: number) => number): Sample[] {
  const rng = new Rng(seed);
  const out: Sample[] = [];
  for (let k = 0; k < steps; k++) {
    const r = pick ? pick(k) : Math.floor(rng.next() * POINTS.length);
    const p = POINTS[r]!;
    out.push({
      machine,
      ts: k * STEP,
      values: {
        alt: p.alt + rng.normal() * 0.01,
        mach: p.mach + rng.normal() * 0.0005,
        temp: p.level + 0.05 * k + rng.normal(),
        inlet: p.level / 2, // set by the regime alone
      },
    });
  }
  return out;
}

const segmentOf = (samples: Sample[], sensors: string[]): Segment => alignToGrid('m1', samples, sensors, STEP, 2).segments[0]!;
const ALL = ['temp', 'inlet', 'alt', 'mach'];
const FIT = { conditions: ['alt', 'mach'], maxK: 8, minExplained: 0.99, seed: 1 };

describe('operating regimes', () => {
  it('finds the operating points by the rule, in a stable order, and leaves conditions that only wander as one regime', () => {
    const seg = segmentOf(regimeSamples(600, 1), ALL);
    const model = fitRegimes([seg], ['alt', 'mach'], FIT)!;
    expect(model.centroids).toHaveLength(3);
    expect(model.chosenBy).toBe('rule');
    expect(model.explained).toBeGreaterThan(0.999);
    expect(model.trainShare.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // Sorted by the first condition: regime 1 is the lowest altitude, whatever k-means started from.
    expect(POINTS.map((p) => regimeOfValues(model, { alt: p.alt, mach: p.mach }))).toEqual([0, 1, 2]);
    expect(regimeOfValues(model, { alt: 0 })).toBe(-1);

    // FD001-like: the settings are noise around one point; no k explains 99 % of noise.
    const rng = new Rng(2);
    const noise = Array.from({ length: 600 }, (_, k) => ({
      machine: M1,
      ts: k * STEP,
      values: { alt: rng.normal() * 0.002, mach: rng.normal() * 0.0003, temp: 500 + rng.normal(), inlet: 7 },
    }));
    const flat = fitRegimes([segmentOf(noise, ALL)], ['alt', 'mach'], FIT)!;
    expect(flat.centroids).toHaveLength(1);
    // Given k is honoured; constant conditions are not conditions.
    expect(fitRegimes([seg], ['alt', 'mach'], { ...FIT, k: 2 })!.centroids).toHaveLength(2);
    expect(fitRegimes([segmentOf(noise, ALL)], ['inlet'], FIT)).toBeNull();
  });

  it('normalises each sensor by its regime, drops sensors the regime alone sets, and adds the regime as inputs', () => {
    const seg = segmentOf(regimeSamples(600, 1), ALL);
    const norm = fitNormalisation([seg], ['temp', 'inlet'], FIT);
    expect(norm.sensors).toEqual(['temp']);
    expect(norm.dropped).toEqual(['inlet']);
    expect(inputNames(norm)).toEqual(['temp', 'regime 1', 'regime 2', 'regime 3']);
    expect(channels(norm)).toEqual(['temp', 'alt', 'mach']);
    const out = applyNormalisation(seg, norm);
    expect(out.sensors).toEqual(inputNames(norm));
    // Within a regime the z-scores are centred, so the regime noise (hundreds of units) is gone.
    let maxAbs = 0;
    for (let k = 0; k < out.steps; k++) {
      const row = Array.from(out.data.subarray(k * 4, k * 4 + 4));
      expect(row.slice(1).reduce((a, b) => a + b, 0)).toBe(1); // one-hot
      maxAbs = Math.max(maxAbs, Math.abs(row[0]!));
    }
    expect(maxAbs).toBeLessThan(4);
    // Without the global z-score's regime noise, wear is visible: the last steps sit above the first.
    const global = fitNormalisation([seg], ['temp']);
    expect(global.regimes).toBeUndefined();
    expect(inputNames(global)).toEqual(['temp']);
  });

  it('scores through the same code: the scoring window equals the training window, regime inputs included', () => {
    const samples = regimeSamples(40, 3);
    const norm = fitNormalisation([segmentOf(regimeSamples(600, 1), ALL)], ['temp', 'inlet'], FIT);
    const w = new MachineWindow(M1, STEP, 20);
    for (const s of samples) w.add(s);
    const r = w.window(norm, 10, 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { segments } = alignToGrid('m1', samples, channels(norm), STEP, 2);
    expect(Array.from(r.x)).toEqual(Array.from(lastWindow(applyNormalisation(segments.at(-1)!, norm), 10)));
    expect(r.x.length).toBe(10 * inputNames(norm).length);
  });

  it('judges drift per regime: a change in the regime mix is not drift, a shift within a regime is', async () => {
    const norm = fitNormalisation([segmentOf(regimeSamples(900, 1), ALL)], ['temp'], FIT);
    const storeOf = (samples: Sample[]) => ({
      listMachines: async () => [{ ref: M1, sensors: ALL, lastTs: samples.at(-1)!.ts, firstTs: 0 }],
      queryReadings: async () => samples,
    });
    // Live data all in regime 3 (the plant at full load), same wear range as training.
    const mix = regimeSamples(900, 5, M1, () => 2);
    const byRegime = await measureDrift(storeOf(mix) as never, norm, 1e9);
    const globalNorm = fitNormalisation([segmentOf(regimeSamples(900, 1), ALL)], ['temp']);
    const byGlobal = await measureDrift(storeOf(mix) as never, globalNorm, 1e9);
    expect(byGlobal!.sigmas).toBeGreaterThan(1);
    expect(byRegime!.sigmas).toBeLessThan(1);
    expect(byRegime!.regime).toBe(3);
    // A real shift within regime 3 is still found.
    const shifted = mix.map((s) => ({ ...s, values: { ...s.values, temp: s.values.temp! + 40 } }));
    expect((await measureDrift(storeOf(shifted) as never, norm, 1e9))!.sigmas).toBeGreaterThan(2);
  });
});
