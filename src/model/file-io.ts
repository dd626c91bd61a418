import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { writeFileDurable } from '../core/durable-fs.js';
import type { TF } from './backend.js';
import { fastLstmRuntime } from './fast-lstm/layer.js';
import { toFastTopology, toStockTopology } from './fast-lstm/topology.js';
import { registerTemporalAttention } from './attention.js';
import { registerCausalConv } from './conv-front.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const MAX_MODEL_JSON = 16 * 1024 * 1024;

export class ModelFileError extends Error {
  constructor(dir: string, reason: string) {
    super(`model in ${dir}: ${reason}`);
    this.name = 'ModelFileError';
  }
}

/**
 * tfjs in plain Node has no file:// handler; this one writes and reads the same layout tfjs-node
 * does (model.json with the topology and a weights manifest, weights.bin with the raw weights), so
 * models move between backends. Loading validates what it reads: sizes, manifest, weight byte counts.
 * LSTM layers are always written as stock tfjs LSTMs, and read as fast ones where this thread has the
 * kernels (fast-lstm/topology.ts).
 */
export function fileHandler(tf: TF, dir: string): io.IOHandler {
  // Vigil's own layers must be known to this tfjs before a model that uses them is read.
  registerTemporalAttention(tf);
  registerCausalConv(tf);
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new ModelFileError(dir, 'binary topologies are not supported');
      mkdirSync(dir, { recursive: true });
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json: io.ModelJSON = {
        modelTopology: toStockTopology(artifacts.modelTopology!),
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      writeFileDurable(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      writeFileDurable(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },

    async load(): Promise<io.ModelArtifacts> {
      let text: Buffer;
      try {
        text = readFileSync(path.join(dir, MODEL_JSON));
      } catch (err) {
        throw new ModelFileError(dir, `cannot read ${MODEL_JSON}: ${(err as Error).message}`);
      }
      if (text.byteLength > MAX_MODEL_JSON) throw new ModelFileError(dir, `${MODEL_JSON} is larger than ${MAX_MODEL_JSON} bytes`);
      let json: io.ModelJSON;
      try {
        json = JSON.parse(text.toString('utf8')) as io.ModelJSON;
      } catch (err) {
        throw new ModelFileError(dir, `${MODEL_JSON} is not JSON: ${(err as Error).message}`);
      }
      if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
        throw new ModelFileError(dir, `${MODEL_JSON} lacks modelTopology or weightsManifest`);
      }
      const specs = json.weightsManifest.flatMap((g) => g.weights);
      const paths = json.weightsManifest.flatMap((g) => g.paths);
      if (paths.some((p) => typeof p !== 'string' || p.includes('/') || p.includes('\\') || p.startsWith('.'))) {
        throw new ModelFileError(dir, 'weights manifest names a path outside the model directory');
      }
      const parts = paths.map((p) => {
        try {
          return readFileSync(path.join(dir, p));
        } catch (err) {
          throw new ModelFileError(dir, `cannot read ${p}: ${(err as Error).message}`);
        }
      });
      const weights = Buffer.concat(parts);
      const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPer(s.dtype), 0);
      if (weights.byteLength !== expected) {
        throw new ModelFileError(dir, `weights are ${weights.byteLength} bytes, the manifest describes ${expected}`);
      }
      if (fastLstmRuntime()) json.modelTopology = toFastTopology(json.modelTopology).topology;
      return tf.io.getModelArtifactsForJSON(json, async () => [
        specs,
        weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      ]);
    },
  };
}

function bytesPer(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool' || dtype === 'uint8') return 1;
  if (dtype === 'float16') return 2;
  throw new Error(`unsupported weight dtype ${dtype}`);
}
