/**
 * npm run bench:lstm [-- --batch 256 --threads N --seconds S --no-relaxed --data DIR]
 *
 * Stock tf.layers.lstm (wasm and pure-JS backends) against the fused kernels, on Vigil's model
 * (LSTM 64 with sequences → dropout → LSTM 32 → dropout → failure and RUL heads) and the same
 * C-MAPSS FD001 windows (50 × 14): training samples/s and achieved GFLOP/s, batch inference
 * samples/s, single-window latency, and the ratios. One process, one run.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { loadTf, quietTfWarnings } from '../src/model/backend.js';
import { loadFastLstm } from '../src/model/fast-lstm/load.js';
import { buildLstm, predict, type LstmSpec } from '../src/model/lstm.js';
import { FastPredictor } from '../src/model/fast-lstm/predictor.js';
import { prepareData } from '../src/training/pipeline.js';
import { CMAPSS_SENSORS, labelledTrainingUnits } from './lib/cmapss.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve('../shared/data/cmapss') },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string' },
    seconds: { type: 'string', default: '8' },
    // Plain SIMD kernels even where relaxed SIMD (fused multiply-add) is available.
    'no-relaxed': { type: 'boolean', default: false },
  },
});
const BATCH = Number(a.batch);
const SECONDS = Number(a.seconds);
const WINDOW = 50;
const UNITS = [64, 32];

quietTfWarnings();
const { tf } = await loadTf('wasm');
const fast = await loadFastLstm(tf, { ...(a.threads ? { threads: Number(a.threads) } : {}), preferRelaxed: !a['no-relaxed'] });
if (!fast.runtime) throw new Error(`fast kernels did not load: ${fast.reason}`);
// The 21 sensors (50 × 15 windows after the constant ones go): the shape its published figures were measured on.
const items = labelledTrainingUnits(path.join(a.data, 'train_FD001.txt'), {
  window: WINDOW,
  horizon: 30,
  rulCap: 125,
  inputs: CMAPSS_SENSORS,
});
const data = prepareData(items, CMAPSS_SENSORS, { windowSteps: WINDOW, stride: 2, validationFraction: 0.2, positiveShare: 0.3, seed: 1 });
const F = data.norm.sensors.length;
const train = data.train;
const size = WINDOW * F;

// Multiply-adds of the LSTM layers only (dense heads and element-wise work are noise beside them):
// forward 2·(F+U)·4U per step and layer; the backward costs two forwards (dx/dh and the weight gradients).
let forwardFlops = 0;
UNITS.reduce((inputs, u) => {
  forwardFlops += WINDOW * 2 * (inputs + u) * 4 * u;
  return u;
}, F);
const trainFlopsPerSample = 3 * forwardFlops;

console.log(
  `bench:lstm — C-MAPSS FD001 windows ${WINDOW}×${F}, LSTM ${UNITS.join('→')} with dropout, two heads, batch ${BATCH}, Adam; ` +
    `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.versions.node}; ` +
    `kernels: ${fast.runtime.info.instructionSet}, ${fast.runtime.threads} thread(s)`,
);
console.log(`FLOPs per window: forward ${(forwardFlops / 1e6).toFixed(2)} M, training step ${(trainFlopsPerSample / 1e6).toFixed(2)} M`);

interface Row {
  name: string;
  trainSps: number;
  gflops: number;
  inferSps: number;
  singleP50: number;
  singleP99: number;
}

function spec(kernel: 'fast' | 'stock'): LstmSpec {
  return {
    windowSteps: WINDOW,
    features: F,
    units: UNITS,
    dropout: 0.2,
    learningRate: 0.002,
    seed: 1,
    recurrentActivation: 'sigmoid',
    kernel,
  };
}

function batchTensors(start: number): [Tensor, Tensor[]] {
  const xs = new Float32Array(BATCH * size);
  const yf = new Float32Array(BATCH);
  const yr = new Float32Array(BATCH);
  for (let b = 0; b < BATCH; b++) {
    const i = (start + b) % train.n;
    xs.set(train.x.subarray(i * size, (i + 1) * size), b * size);
    yf[b] = train.failure[i]!;
    yr[b] = Math.min(1, train.rul[i]! / 125);
  }
  return [tf.tensor3d(xs, [BATCH, WINDOW, F]), [tf.tensor2d(yf, [BATCH, 1]), tf.tensor2d(yr, [BATCH, 1])]];
}

async function measureTraining(model: LayersModel): Promise<number> {
  const step = async (i: number) => {
    const [x, y] = batchTensors(i * BATCH);
    await model.trainOnBatch(x, y);
    tf.dispose([x, ...y]);
  };
  await step(0); // first call compiles and allocates
  let batches = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000 || batches < 2) await step(++batches);
  return (batches * BATCH) / ((performance.now() - t0) / 1000);
}

function measureInference(run: (x: Float32Array, n: number) => void, windows: number): { sps: number; p50: number; p99: number } {
  const x = train.x.subarray(0, windows * size);
  run(x, windows);
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < (SECONDS * 1000) / 2 || reps < 2) {
    run(x, windows);
    reps++;
  }
  const sps = (reps * windows) / ((performance.now() - t0) / 1000);
  const one = train.x.subarray(size, 2 * size);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) run(one, 1);
  const until = performance.now() + 2000;
  while (performance.now() < until && times.length < 2000) {
    const s = performance.now();
    run(one, 1);
    times.push(performance.now() - s);
  }
  times.sort((p, q) => p - q);
  return { sps, p50: times[Math.floor(times.length * 0.5)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

async function variant(name: string, backend: 'wasm' | 'cpu', kernel: 'fast' | 'stock', inferWindows: number): Promise<Row> {
  await tf.setBackend(backend);
  await tf.ready();
  const model = buildLstm(tf, spec(kernel));
  const trainSps = await measureTraining(model);
  // model.predict itself: what tfjs does with the layer (the scoring path is measured below).
  const infer = measureInference((x, n) => {
    for (let s = 0; s < n; s += 512) {
      const count = Math.min(512, n - s);
      tf.tidy(() => {
        const out = model.predict(tf.tensor3d(x.subarray(s * size, (s + count) * size), [count, WINDOW, F])) as Tensor[];
        out.forEach((t) => t.dataSync());
      });
    }
  }, inferWindows);
  model.dispose();
  const row = {
    name,
    trainSps,
    gflops: (trainSps * trainFlopsPerSample) / 1e9,
    inferSps: infer.sps,
    singleP50: infer.p50,
    singleP99: infer.p99,
  };
  print(row);
  return row;
}

function print(r: Row): void {
  console.log(
    `${r.name.padEnd(34)} train ${r.trainSps.toFixed(0).padStart(6)} samples/s (${r.gflops.toFixed(2).padStart(6)} GFLOP/s)  ` +
      `inference ${r.inferSps.toFixed(0).padStart(7)} windows/s  single window p50 ${r.singleP50.toFixed(3)} ms, p99 ${r.singleP99.toFixed(3)} ms`,
  );
}

const stockWasm = await variant('stock tf.layers.lstm, wasm', 'wasm', 'stock', 512);
const stockCpu = await variant('stock tf.layers.lstm, pure JS (cpu)', 'cpu', 'stock', 64);
const fastWasm = await variant('fast kernels (tfjs wasm around them)', 'wasm', 'fast', 4096);

// Scoring path: the same forward kernel with the heads in plain code, no tfjs per call.
await tf.setBackend('wasm');
const model = buildLstm(tf, spec('fast'));
const recognised = FastPredictor.fromModel(model, fast.runtime);
if (!recognised) throw new Error('the scoring path does not recognise the model');
const predictor = recognised;
const direct = measureInference((x, n) => predictor.predict(x, n, WINDOW), 4096);
// predict() as training's validation and the C-MAPSS evaluation call it (weights read per call).
const viaPredict = measureInference((x, n) => predict(tf, model, x, n, WINDOW, F), 4096);
console.log(
  `(predict() with weights read per call: ${viaPredict.sps.toFixed(0)} windows/s, single window p50 ${viaPredict.p50.toFixed(3)} ms)`,
);
model.dispose();
predictor.dispose();
const fastDirect: Row = {
  name: 'fast kernels, scoring path',
  trainSps: NaN,
  gflops: NaN,
  inferSps: direct.sps,
  singleP50: direct.p50,
  singleP99: direct.p99,
};
console.log(
  `${fastDirect.name.padEnd(34)} ${''.padEnd(43)}inference ${direct.sps.toFixed(0).padStart(7)} windows/s  single window p50 ${direct.p50.toFixed(3)} ms, p99 ${direct.p99.toFixed(3)} ms`,
);

const ratio = (x: number, y: number) => `${(x / y).toFixed(1)}×`;
console.log('\nratios, fast against stock wasm (stock pure JS in brackets):');
console.log(
  `  training           ${ratio(fastWasm.trainSps, stockWasm.trainSps)} (${ratio(fastWasm.trainSps, stockCpu.trainSps)})   target ≥ 10× — ${fastWasm.trainSps >= 10 * stockWasm.trainSps ? 'met' : 'NOT met'}`,
);
console.log(
  `  batch inference    ${ratio(fastWasm.inferSps, stockWasm.inferSps)} through tfjs, ${ratio(direct.sps, stockWasm.inferSps)} scoring path (${ratio(direct.sps, stockCpu.inferSps)})   target ≥ 10× — ${Math.max(fastWasm.inferSps, direct.sps) >= 10 * stockWasm.inferSps ? 'met' : 'NOT met'}`,
);
console.log(
  `  single window p50  ${ratio(stockWasm.singleP50, fastWasm.singleP50)} through tfjs, ${ratio(stockWasm.singleP50, direct.p50)} scoring path; ${direct.p50.toFixed(3)} ms   target ≤ 1 ms — ${direct.p50 <= 1 ? 'met' : 'NOT met'}`,
);
await fast.runtime.close();
