/**
 * npm run bench:scoring-roles [-- --machines 10000 --rounds 5 --window 36 --sensors 10]
 *
 * What a second model role costs the gateway: one scoring round over every machine's latest window,
 * in the inference worker's batches (`scoring.maxBatch`), with the failure model alone (as before
 * the health model) and with both roles — the failure model's p(failure) and RUL with its occlusion
 * passes (one per sensor, what names the sensors behind a risk), and the health
 * model's reconstruction, residual features, Mahalanobis score, then per machine its smoothing and
 * alert debounce. Both models at their default sizes (64/32 and 32/16 LSTM units), on the fast
 * kernels where they load. Prints ms per round and the per-machine health state's heap.
 */
import { parseArgs } from 'node:util';
import { HysteresisRule } from '../src/core/hysteresis.js';
import { loadTf, quietTfWarnings } from '../src/model/backend.js';
import { loadFastLstm } from '../src/model/fast-lstm/load.js';
import { FastPredictor } from '../src/model/fast-lstm/predictor.js';
import { buildHealthLstm } from '../src/model/health-lstm.js';
import { anomalyScores, featureMoments, residualFeatures, smoothScore } from '../src/model/health-score.js';
import { buildLstm } from '../src/model/lstm.js';
import { Rng } from '../src/core/random.js';

const { values: a } = parseArgs({
  options: {
    machines: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    window: { type: 'string', default: '36' },
    sensors: { type: 'string', default: '10' },
    batch: { type: 'string', default: '256' },
  },
});
const N = Number(a.machines);
const W = Number(a.window);
const S = Number(a.sensors);
const BATCH = Number(a.batch);
const ROUNDS = Number(a.rounds);

quietTfWarnings();
const { tf, backend } = await loadTf('auto');
const kernels = await loadFastLstm(tf, { preference: 'auto' });
const failureModel = buildLstm(tf, {
  windowSteps: W,
  features: S,
  units: [64, 32],
  dropout: 0,
  learningRate: 0.001,
  seed: 1,
  recurrentActivation: 'sigmoid',
});
const healthModel = buildHealthLstm(tf, {
  windowSteps: W,
  features: S,
  sensors: S,
  units: [32, 16],
  dropout: 0,
  learningRate: 0.003,
  seed: 1,
  kernel: 'fast',
});
const fast = kernels.runtime
  ? { failure: FastPredictor.fromModel(failureModel, kernels.runtime), health: FastPredictor.fromModel(healthModel, kernels.runtime) }
  : null;
if (!fast?.failure || !fast.health) throw new Error('bench:scoring-roles needs the fast LSTM kernels (the daemon scores with them)');
const predictors = { failure: fast.failure, health: fast.health };

const rng = new Rng(7);
const x = new Float32Array(N * W * S);
for (let i = 0; i < x.length; i++) x[i] = rng.normal();
// Calibration from the untrained model's own residuals: the arithmetic is what is measured, not the values.
const probe = Math.min(N, 2000);
const probeRecon = predictors.health.predict(x.subarray(0, probe * W * S), probe, W)[0]!;
const moments = featureMoments(residualFeatures(x.subarray(0, probe * W * S), probeRecon, probe, W, S, S), probe, 2 * S, 0.2);

/** Per machine, what the health role keeps: the smoothed score, its time, and the alert debounce. */
const heapBefore = (globalThis.gc?.(), process.memoryUsage().heapUsed);
const state = Array.from({ length: N }, () => ({
  smoothed: 0,
  at: 0,
  rule: new HysteresisRule({ high: 60, low: 55, openAfter: 3, closeAfter: 5 }),
}));
const heapState = (globalThis.gc?.(), process.memoryUsage().heapUsed) - heapBefore;

/** As the inference worker scores a batch: p(failure) and RUL, then one occlusion pass per sensor (the "why"). */
const occluded = new Float32Array(BATCH * S * W * S);
function failureRound(): void {
  for (let i = 0; i < N; i += BATCH) {
    const n = Math.min(BATCH, N - i);
    const xs = x.subarray(i * W * S, (i + n) * W * S);
    predictors.failure.predict(xs, n, W);
    for (let j = 0; j < n; j++)
      for (let o = 0; o < S; o++) {
        const at = (j * S + o) * W * S;
        occluded.set(xs.subarray(j * W * S, (j + 1) * W * S), at);
        for (let k = 0; k < W; k++) occluded[at + k * S + o] = 0;
      }
    predictors.failure.predict(occluded.subarray(0, n * S * W * S), n * S, W);
  }
}

function healthRound(t: number): void {
  for (let i = 0; i < N; i += BATCH) {
    const n = Math.min(BATCH, N - i);
    const xs = x.subarray(i * W * S, (i + n) * W * S);
    const recon = predictors.health.predict(xs, n, W)[0]!;
    const score = anomalyScores(residualFeatures(xs, recon, n, W, S, S), n, moments);
    for (let j = 0; j < n; j++) {
      const m = state[i + j]!;
      m.smoothed = smoothScore(m.smoothed, score[j]!, 1, 5);
      m.at = t;
      m.rule.observe(100 / (1 + Math.max(0, m.smoothed)));
    }
  }
}

const time = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
failureRound();
healthRound(0);
const one: number[] = [];
const both: number[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  one.push(time(failureRound));
  both.push(time(() => (failureRound(), healthRound(r))));
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
console.log(`bench:scoring-roles — ${backend} backend, LSTM ${kernels.describe}; ${N} machines, windows ${W} × ${S}, batches of ${BATCH}`);
console.log(`failure role only: ${median(one).toFixed(0)} ms per round (${one.map((v) => v.toFixed(0)).join(' / ')})`);
console.log(`both roles:        ${median(both).toFixed(0)} ms per round (${both.map((v) => v.toFixed(0)).join(' / ')})`);
console.log(
  `health role's per-machine state: ${globalThis.gc ? `${(heapState / N) | 0} bytes per machine` : 'run with --expose-gc to measure'}`,
);
console.log(
  `scoring round for ${N} machines: both roles ${median(both).toFixed(0)} ms vs failure role alone ${median(one).toFixed(0)} ms (${(median(both) / median(one)).toFixed(2)}×)`,
);
