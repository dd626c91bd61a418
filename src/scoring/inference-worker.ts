/**
 * Inference worker: scores windows with the champion off the daemon's event loop, so a batch of
 * predictions (and the occlusion passes that explain them) never delays MQTT acknowledgements.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf, quietTfWarnings, type BackendPreference, type TF } from '../model/backend.js';
import { predict } from '../model/lstm.js';
import { ModelRegistry } from '../training/registry.js';

export type InferenceRequest =
  | { type: 'load'; id: number; modelsDir: string; version: string }
  | { type: 'score'; id: number; x: Float32Array; n: number; windowSteps: number; features: number; occlude: boolean };

export type InferenceReply =
  | { type: 'loaded'; id: number; version: string; backend: string }
  | { type: 'scores'; id: number; p: Float32Array; rul: Float32Array; occludedP: Float32Array | null; ms: number }
  | { type: 'error'; id: number; message: string };

const port = parentPort!;
const backendPreference = (workerData as { backend: BackendPreference }).backend;
let tfReady: Promise<{ tf: TF; backend: string }> | null = null;
let model: LayersModel | null = null;

function tfOnce(): Promise<{ tf: TF; backend: string }> {
  quietTfWarnings();
  tfReady ??= loadTf(backendPreference).then(({ tf, backend }) => ({ tf, backend }));
  return tfReady;
}

async function handle(m: InferenceRequest): Promise<InferenceReply> {
  const { tf, backend } = await tfOnce();
  if (m.type === 'load') {
    const next = await new ModelRegistry(m.modelsDir).load(tf, m.version);
    model?.dispose();
    model = next;
    return { type: 'loaded', id: m.id, version: m.version, backend };
  }
  if (!model) return { type: 'error', id: m.id, message: 'no model loaded' };
  const t0 = performance.now();
  const { p, rul } = predict(tf, model, m.x, m.n, m.windowSteps, m.features);
  let occludedP: Float32Array | null = null;
  if (m.occlude) {
    // Occlusion: each sensor in turn set to its training mean (0 after normalisation) over the
    // whole window; the drop in p(failure) is how much that sensor drove the score.
    const size = m.windowSteps * m.features;
    const x = new Float32Array(m.n * m.features * size);
    for (let i = 0; i < m.n; i++) {
      const src = m.x.subarray(i * size, (i + 1) * size);
      for (let f = 0; f < m.features; f++) {
        const dst = x.subarray((i * m.features + f) * size, (i * m.features + f + 1) * size);
        dst.set(src);
        for (let k = 0; k < m.windowSteps; k++) dst[k * m.features + f] = 0;
      }
    }
    occludedP = predict(tf, model, x, m.n * m.features, m.windowSteps, m.features).p;
  }
  return { type: 'scores', id: m.id, p, rul, occludedP, ms: performance.now() - t0 };
}

port.on('message', (m: InferenceRequest) => {
  handle(m)
    .then((reply) => port.postMessage(reply))
    .catch((err: unknown) => port.postMessage({ type: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) } satisfies InferenceReply));
});
