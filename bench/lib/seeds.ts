/** The protocol every benchmark figure follows: one run per seed, reported as mean ± sd with the per-seed values. */

export function parseSeeds(list: string): number[] {
  const seeds = list.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0))
    throw new Error(`--seeds wants non-negative integers separated by commas, got "${list}"`);
  return seeds;
}

export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  // Sample standard deviation: three seeds are a sample of the seeds one could have drawn.
  const sd = values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/** "0.951 ± 0.012 (0.940 / 0.965 / 0.948)". */
export function describe(values: readonly number[], digits: number): string {
  const { mean, sd } = meanSd(values);
  return `${mean.toFixed(digits)} ± ${sd.toFixed(digits)} (${values.map((v) => v.toFixed(digits)).join(' / ')})`;
}

export function meanPlusMinus(values: readonly number[], digits: number): string {
  const { mean, sd } = meanSd(values);
  return `${mean.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}
