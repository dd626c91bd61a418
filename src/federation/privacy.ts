/**
 * Differential privacy for a gateway's updates: each update is clipped to an L2 norm C and gets
 * Gaussian noise of standard deviation z·C on every weight before it leaves the gateway (the
 * Gaussian mechanism on the whole update, so what is protected is the gateway's entire data for
 * that round, not one reading). The privacy loss is accounted with zero-concentrated DP (Bun &
 * Steinke 2016): one release costs ρ = 1 / (2 z²), rounds add up, and ε(δ) = ρ + 2 √(ρ ln(1/δ)).
 */
import { Rng } from '../core/random.js';
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

/** Adds N(0, (z·C)²) to every weight, seeded. */
export function addGaussianNoise(delta: Float32Array, clipNorm: number, noiseMultiplier: number, seed: number): void {
  if (noiseMultiplier <= 0) return;
  const rng = new Rng(seed);
  const sd = noiseMultiplier * clipNorm;
  for (let i = 0; i < delta.length; i++) delta[i]! += rng.normal(0, sd);
}

/** (ε, δ) after `rounds` noised releases with noise multiplier z; ε is Infinity without noise. */
export function privacyLoss(noiseMultiplier: number, rounds: number, delta: number): { epsilon: number; delta: number } {
  if (noiseMultiplier <= 0 || rounds <= 0) return { epsilon: rounds <= 0 ? 0 : Infinity, delta };
  const rho = rounds / (2 * noiseMultiplier * noiseMultiplier);
  return { epsilon: rho + 2 * Math.sqrt(rho * Math.log(1 / delta)), delta };
}
