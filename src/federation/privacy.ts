/**
 * Differential privacy for a gateway's updates: each update is clipped to an L2 norm C and gets
 * Gaussian noise of standard deviation z·C on every weight before it leaves the gateway (the
 * Gaussian mechanism on the whole update, so what is protected is the gateway's entire data for
 * that round, not one reading). The privacy loss is accounted with zero-concentrated DP (Bun &
 * Steinke 2016): one release costs ρ = 1 / (2 z²), rounds add up, and ε(δ) = ρ + 2 √(ρ ln(1/δ)).
 */
import { randomFillSync } from 'node:crypto';
import { l2 } from './aggregate.js';

/** Clips `delta` in place to norm `clipNorm`; returns its norm before clipping. */
export function clipUpdate(delta: Float32Array, clipNorm: number): number {
  const norm = l2(delta);
  if (norm > clipNorm) {
    const f = clipNorm / norm;
    for (let i = 0; i < delta.length; i++) delta[i]! *= f;
  }
  return norm;
}

/**
 * Adds N(0, (z·C)²) to every weight from the operating system's CSPRNG: noise drawn from a seeded
 * generator could be regenerated (and subtracted) by whoever knows or guesses the seed.
 */
export function addGaussianNoise(delta: Float32Array, clipNorm: number, noiseMultiplier: number): void {
  if (noiseMultiplier <= 0) return;
  const sd = noiseMultiplier * clipNorm;
  const bits = new Uint32Array(2 * Math.ceil(delta.length / 2) * 2);
  randomFillSync(bits);
  // Box–Muller on 53-bit uniforms in (0, 1]; both values of each pair used.
  const uniform = (k: number) => ((bits[k]! >>> 5) * 67_108_864 + (bits[k + 1]! >>> 6) + 1) / 9_007_199_254_740_992;
  for (let i = 0, k = 0; i < delta.length; i += 2, k += 4) {
    const r = Math.sqrt(-2 * Math.log(uniform(k)));
    const theta = 2 * Math.PI * uniform(k + 2);
    delta[i]! += sd * r * Math.cos(theta);
    if (i + 1 < delta.length) delta[i + 1]! += sd * r * Math.sin(theta);
  }
}

/** (ε, δ) after `rounds` noised releases with noise multiplier z; ε is Infinity without noise. */
export function privacyLoss(noiseMultiplier: number, rounds: number, delta: number): { epsilon: number; delta: number } {
  if (noiseMultiplier <= 0 || rounds <= 0) return { epsilon: rounds <= 0 ? 0 : Infinity, delta };
  const rho = rounds / (2 * noiseMultiplier * noiseMultiplier);
  return { epsilon: rho + 2 * Math.sqrt(rho * Math.log(1 / delta)), delta };
}
