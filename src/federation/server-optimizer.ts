/**
 * Server-side optimisers for federated rounds (Reddi et al. 2021, "Adaptive Federated Optimization";
 * Hsu et al. 2019 for server momentum): the round's aggregate update Δ is treated as a pseudo-gradient
 * step and the global weights move by what an optimiser makes of it, with state kept across the
 * rounds of one federation. `none` is plain FedAvg (the global model moves by Δ).
 *
 *   momentum (FedAvgM): m ← β₁·m + Δ;                        step = η·m
 *   adam (FedAdam):     m ← β₁·m + (1−β₁)·Δ; v ← β₂·v + (1−β₂)·Δ²;  step = η·m / (√v + τ)
 *   yogi (FedYogi):     v ← v − (1−β₂)·Δ²·sign(v − Δ²), otherwise as adam
 */
export type ServerOptimizerKind = 'none' | 'momentum' | 'adam' | 'yogi';

export interface ServerOptimizerOptions {
  kind: ServerOptimizerKind;
  learningRate: number;
  beta1: number;
  beta2: number;
  /** Adam and Yogi's ε: how small a second moment still counts as adaptive (1e-3 in the paper). */
  tau: number;
}

export class ServerOptimizer {
  private m: Float32Array | null = null;
  private v: Float32Array | null = null;

  constructor(private readonly o: ServerOptimizerOptions) {}

  /** The step to add to the global weights for this round's aggregate update. */
  step(delta: Float32Array): Float32Array {
    const { kind, learningRate: lr, beta1, beta2, tau } = this.o;
    if (kind === 'none') return delta;
    const n = delta.length;
    if (!this.m || this.m.length !== n) {
      this.m = new Float32Array(n);
      // Adam and Yogi start their second moment at τ² (as the paper does), so the first steps are not huge.
      this.v = new Float32Array(n).fill(tau * tau);
    }
    const m = this.m;
    const v = this.v!;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const d = delta[i]!;
      if (kind === 'momentum') {
        m[i] = beta1 * m[i]! + d;
        out[i] = lr * m[i]!;
        continue;
      }
      m[i] = beta1 * m[i]! + (1 - beta1) * d;
      const d2 = d * d;
      v[i] = kind === 'adam' ? beta2 * v[i]! + (1 - beta2) * d2 : v[i]! - (1 - beta2) * d2 * Math.sign(v[i]! - d2);
      out[i] = (lr * m[i]!) / (Math.sqrt(v[i]!) + tau);
    }
    return out;
  }
}
