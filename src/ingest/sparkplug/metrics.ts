import type { Rejection } from '../../core/reasons.js';
import type { MachineRef, Sample } from '../../core/types.js';
import { MAX_ITEMS_PER_MESSAGE, checkTimeWindow, type ValidationContext } from '../validate.js';
import {
  STORED_TYPES,
  dataTypeName,
  metricAlias,
  metricIsNull,
  metricName,
  metricNumber,
  metricTimestamp,
  metricType,
  payloadTimestamp,
  type WireMetric,
  type WirePayload,
} from './codec.js';
import type { SparkplugMapping } from './mapping.js';

/** What an alias stands for, as its BIRTH declared it. */
export interface AliasEntry {
  name: string;
  datatype: number | null;
}

export interface MetricsResult {
  samples: Sample[];
  /** Metrics whose name or type came from the alias table: the journal keeps them completed. */
  completed: boolean;
  /** Alias-only metrics no BIRTH declared. */
  unknownAliases: number;
}

/**
 * A payload's metrics → samples of one machine, one sample per timestamp. `aliases` completes
 * alias-only metrics on the live path; read back from the journal the payload is complete already.
 * Each metric refused adds its own rejection; the others are kept.
 */
export function metricsToSamples(
  payload: WirePayload,
  machine: MachineRef,
  mapping: SparkplugMapping,
  ctx: ValidationContext,
  aliases: Map<number, AliasEntry> | null,
  rejections: Rejection[],
): MetricsResult {
  const byTs = new Map<number, Sample>();
  const fallbackTs = payloadTimestamp(payload) ?? ctx.now;
  let completed = false;
  let unknownAliases = 0;
  const metrics = payload.metrics ?? [];
  // The same bound as a JSON message's readings: the payload size limit alone would let ~25,000 through.
  if (metrics.length > MAX_ITEMS_PER_MESSAGE) {
    rejections.push({ reason: 'too_many_items', detail: `${metrics.length} metrics in one message, at most ${MAX_ITEMS_PER_MESSAGE}` });
    return { samples: [], completed: false, unknownAliases: 0 };
  }
  for (const m of metrics) {
    let name = metricName(m);
    let datatype = metricType(m);
    if (name === null || datatype === null) {
      const alias = metricAlias(m);
      const entry = alias === null ? undefined : aliases?.get(alias);
      if (entry) {
        if (name === null) m.name = name = entry.name;
        if (datatype === null && entry.datatype !== null) m.datatype = datatype = entry.datatype;
        completed = true;
      } else if (name === null) {
        unknownAliases++;
        rejections.push(
          alias === null
            ? { reason: 'bad_shape', detail: 'Sparkplug metric has neither a name nor an alias' }
            : { reason: 'sparkplug_unknown_alias', detail: `alias ${alias} of ${machine.machine} was not declared in a BIRTH` },
        );
        continue;
      }
    }
    if (metricIsNull(m)) continue;
    const sensor = mapping.sensor(name);
    if (sensor === null) continue;
    if (typeof sensor === 'object') {
      rejections.push({ reason: 'bad_sensor_name', detail: sensor.refused });
      continue;
    }
    const value = readValue(m, datatype);
    if (typeof value === 'string') {
      rejections.push({
        reason: value === 'non-finite' ? 'non_finite_value' : 'sparkplug_unsupported_type',
        detail: `metric ${JSON.stringify(name.slice(0, 80))} ${value === 'non-finite' ? 'is NaN or infinite' : value}`,
      });
      continue;
    }
    const ts = metricTimestamp(m) ?? fallbackTs;
    const inWindow = checkTimeWindow(ts, ctx, `metric ${JSON.stringify(name.slice(0, 80))}`);
    if (!inWindow.ok) {
      rejections.push(inWindow.rejection);
      continue;
    }
    let sample = byTs.get(ts);
    if (!sample) byTs.set(ts, (sample = { machine, ts, values: {} }));
    sample.values[sensor] = value;
  }
  return { samples: [...byTs.values()], completed, unknownAliases };
}

function readValue(m: WireMetric, datatype: number | null): number | string {
  if (datatype !== null && !STORED_TYPES.has(datatype)) return `is ${dataTypeName(datatype)}: only numbers and booleans are stored`;
  const v = metricNumber(m, datatype);
  if (typeof v === 'number' && !Number.isFinite(v)) return 'non-finite';
  return v;
}
