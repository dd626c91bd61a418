/**
 * Inference worker: scores windows with the champion off the daemon's event loop, so a batch of
 * predictions (and the occlusion passes that explain them) never delays MQTT acknowledgements.
 */
import { availableParallelism } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { LayersModel } from '@tensorflow/tfjs';
import {
  loadTf,
  quietTfWarnings,
  type BackendPreference,
  type TF,
  loadFastLstm,
  type LstmKernelChoice,
  type LstmKernelPreference,
  FastPredictor,
  predict,
  reconstruct,
  residualFeatures,
  anomalyScores,
} from '../model/index.js';
import { ModelRegistry } from '../registry/index.js';

export type InferenceRequest =
  /** Loads `version` beside the models in `keep` (the other kinds' champions); others are disposed. */
  | { type: 'load'; id: number; modelsDir: string; version: string; keep?: string[] }
  | { type: 'score'; id: number; version: string; x: Float32Array; n: number; windowSteps: number; features: number; occlude: number }
  /** Health windows: `known` marks, per window and sensor, whether the sensor sent a value in it. */
  | {
      type: 'health';
      id: number;
      version: string;
      x: Float32Array;
      n: number;
      windowSteps: number;
      features: number;
      sensors: number;
      known: Uint8Array;
    };

export type InferenceReply =
  | { type: 'loaded'; id: number; version: string; backend: string }
  | { type: 'scores'; id: number; p: Float32Array; rul: Float32Array; occludedP: Float32Array | null; ms: number }
  /** Per window its anomaly score (squared Mahalanobis distance) and all its residual features (n × 2S). */
  | { type: 'health'; id: number; score: Float32Array; features: Float32Array; ms: number }
  | { type: 'error'; id: number; message: string };

const port = parentPort!;
const options = workerData as { backend: BackendPreference; lstm?: { kernel: LstmKernelPreference; threads: number } };
let tfReady: Promise<{ tf: TF; backend: string; lstm: LstmKernelChoice }> | null = null;
/**
 * Each kind's champions, with their weights in kernel memory (read once per load rather than once per
 * batch), and a health model's residual calibration.
 */
const models = new Map<
  string,
  { model: LayersModel; direct: FastPredictor | null; calibration: { mean: number[]; precision: number[] } | null }
>();

function tfOnce(): Promise<{ tf: TF; backend: string; lstm: LstmKernelChoice }> {
  quietTfWarnings();
  tfReady ??= loadTf(options.backend).then(async ({ tf, backend }) => {
    // Scoring batches are small: a few threads serve them; more would only cost memory.
    const threads = options.lstm?.threads || Math.min(4, availableParallelism());
    const lstm = await loadFastLstm(tf, { preference: options.lstm?.kernel ?? 'auto', ...(threads > 0 ? { threads } : {}) });
    return { tf, backend, lstm };
  });
  return tfReady;
}

function score(
  tf: TF,
  loaded: { model: LayersModel; direct: FastPredictor | null },
  m: Extract<InferenceRequest, { type: 'score' }>,
  x: Float32Array,
  n: number,
): { p: Float32Array; rul: Float32Array } {
  if (loaded.direct) {
    const [p, rul] = loaded.direct.predict(x, n, m.windowSteps);
    return { p: p!, rul: rul! };
  }
  return predict(tf, loaded.model, x, n, m.windowSteps, m.features);
}

function dispose(version: string): void {
  const m = models.get(version);
  m?.direct?.dispose();
  m?.model.dispose();
  models.delete(version);
}

async function handle(m: InferenceRequest): Promise<InferenceReply> {
  const { tf, backend, lstm } = await tfOnce();
  if (m.type === 'load') {
    const registry = new ModelRegistry(m.modelsDir);
    const meta = registry.meta(m.version);
    const next = await registry.load(tf, m.version);
    const keep = new Set([...(m.keep ?? []), m.version]);
    for (const v of [...models.keys()]) if (!keep.has(v) || v === m.version) dispose(v);
    const direct = lstm.runtime ? FastPredictor.fromModel(next, lstm.runtime) : null;
    models.set(m.version, { model: next, direct, calibration: meta.role === 'health' ? meta.calibration : null });
    return { type: 'loaded', id: m.id, version: m.version, backend: `${backend}, LSTM ${direct ? lstm.describe : 'stock'}` };
  }
  const loaded = models.get(m.version);
  if (!loaded) return { type: 'error', id: m.id, message: `model ${m.version} is not loaded` };
  const t0 = performance.now();
  if (m.type === 'health') {
    if (!loaded.calibration) return { type: 'error', id: m.id, message: `model ${m.version} is not a health model` };
    const recon = loaded.direct
      ? loaded.direct.predict(m.x, m.n, m.windowSteps)[0]!
      : reconstruct(tf, loaded.model, m.x, m.n, m.windowSteps, m.features);
    const features = residualFeatures(m.x, recon, m.n, m.windowSteps, m.features, m.sensors, m.known);
    const score = anomalyScores(features, m.n, loaded.calibration);
    return { type: 'health', id: m.id, score, features, ms: performance.now() - t0 };
  }
  const { p, rul } = score(tf, loaded, m, m.x, m.n);
  let occludedP: Float32Array | null = null;
  if (m.occlude > 0) {
    // Occlusion: each of the first `occlude` inputs (the sensors) in turn set to its training mean
    // (0 after normalisation) over the whole window; the drop in p(failure) is how much it drove the score.
    const size = m.windowSteps * m.features;
    const O = Math.min(m.occlude, m.features);
    const x = new Float32Array(m.n * O * size);
    for (let i = 0; i < m.n; i++) {
      const src = m.x.subarray(i * size, (i + 1) * size);
      for (let f = 0; f < O; f++) {
        const dst = x.subarray((i * O + f) * size, (i * O + f + 1) * size);
        dst.set(src);
        for (let k = 0; k < m.windowSteps; k++) dst[k * m.features + f] = 0;
      }
    }
    occludedP = score(tf, loaded, m, x, m.n * O).p;
  }
  return { type: 'scores', id: m.id, p, rul, occludedP, ms: performance.now() - t0 };
}

port.on('message', (m: InferenceRequest) => {
  handle(m)
    .then((reply) => port.postMessage(reply))
    .catch((err: unknown) =>
      port.postMessage({ type: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) } satisfies InferenceReply),
    );
});
