import { describe, expect, it } from 'vitest';
import { ServerOptimizer } from '../../src/federation/server-optimizer.js';
import { validateConfig } from '../../src/vigil-config.js';

const opts = { learningRate: 1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };

describe('server optimisers for federated rounds', () => {
  it('none is FedAvg: the global model moves by the aggregate update itself', () => {
    const d = Float32Array.of(0.1, -0.2);
    expect(new ServerOptimizer({ ...opts, kind: 'none' }).step(d)).toBe(d);
  });

  it('momentum carries the earlier rounds’ direction: a steady update grows toward Δ / (1 − β₁)', () => {
    const s = new ServerOptimizer({ ...opts, kind: 'momentum' });
    const d = Float32Array.of(0.1, -0.1);
    const steps = Array.from({ length: 50 }, () => s.step(d)[0]!);
    expect(steps[0]).toBeCloseTo(0.1, 6);
    expect(steps[1]).toBeCloseTo(0.19, 6);
    expect(steps[49]).toBeCloseTo(1, 1);
  });

  it('adam and yogi move each weight by about η for any update well above τ, in its direction', () => {
    for (const kind of ['adam', 'yogi'] as const) {
      const s = new ServerOptimizer({ ...opts, kind, learningRate: 0.01 });
      const d = Float32Array.of(0.02, -5, 0);
      let step = s.step(d);
      for (let r = 0; r < 20; r++) step = s.step(d);
      expect(Math.abs(step[0]!)).toBeGreaterThan(0.001);
      expect(Math.abs(step[0]!)).toBeLessThan(0.05);
      expect(step[1]!).toBeLessThan(-0.001);
      expect(step[1]!).toBeGreaterThan(-0.05);
      expect(step[2]).toBe(0);
    }
  });

  it('is configured per coordinator, FedAvg by default; a wrong kind is refused', () => {
    const c = (serverOptimizer?: unknown) =>
      validateConfig({ federation: { coordinator: serverOptimizer ? { serverOptimizer } : {} } }, { cwd: process.cwd(), origin: 'test' });
    expect(c().federation.coordinator.serverOptimizer).toMatchObject({ kind: 'none', learningRate: 1 });
    expect(c({ kind: 'adam', learningRate: 0.01 }).federation.coordinator.serverOptimizer.kind).toBe('adam');
    expect(() => c({ kind: 'sgd' })).toThrow(/serverOptimizer/);
  });
});
