/**
 * Saved models always name their LSTM layers as stock tfjs does ("LSTM"), so any tfjs loads them;
 * where the kernels are active, loading swaps in the fast layer for every LSTM it can implement.
 * The weights need no change: both layers have the same names, shapes and gate order.
 */
import { FAST_LSTM_CLASS, unsupportedLstmOption } from './layer.js';

interface LayerJson {
  class_name?: unknown;
  config?: Record<string, unknown>;
}

function layersOf(topology: unknown): LayerJson[] {
  const t = topology as { config?: { layers?: unknown } } | null;
  const layers = t?.config?.layers;
  return Array.isArray(layers) ? (layers as LayerJson[]) : [];
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A copy of the topology with fast layers written as stock LSTMs. */
export function toStockTopology<T>(topology: T): T {
  const copy = structuredClone(topology);
  for (const layer of layersOf(copy)) if (layer.class_name === FAST_LSTM_CLASS) layer.class_name = 'LSTM';
  return copy;
}

/** A copy with every LSTM the kernels implement turned into the fast layer; the count of swapped layers. */
export function toFastTopology<T>(topology: T): { topology: T; swapped: number } {
  const copy = structuredClone(topology);
  let swapped = 0;
  for (const layer of layersOf(copy)) {
    if (layer.class_name !== 'LSTM' || !layer.config) continue;
    const config = Object.fromEntries(Object.entries(layer.config).map(([k, v]) => [camel(k), v]));
    if (unsupportedLstmOption(config) === null) {
      layer.class_name = FAST_LSTM_CLASS;
      swapped++;
    }
  }
  return { topology: copy, swapped };
}
