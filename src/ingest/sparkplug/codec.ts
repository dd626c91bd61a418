import protobuf from 'protobufjs';
import { SPARKPLUG_B_PROTO } from './proto.js';

/** Sparkplug B data types (Tahu's DataType enum) that Vigil reads or names in its refusals. */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
} as const;

const TYPE_NAMES: string[] = [];
for (const [name, n] of Object.entries(DataType)) TYPE_NAMES[n] = name;
export const dataTypeName = (t: number | null): string => (t === null ? 'no type' : (TYPE_NAMES[t] ?? `type ${t}`));

const root = protobuf.parse(SPARKPLUG_B_PROTO).root;
const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

type LongLike = number | { toNumber(): number; toSigned(): { toNumber(): number }; high: number; low: number; unsigned: boolean };
type ValueField =
  | 'intValue'
  | 'longValue'
  | 'floatValue'
  | 'doubleValue'
  | 'booleanValue'
  | 'stringValue'
  | 'bytesValue'
  | 'datasetValue'
  | 'templateValue'
  | 'extensionValue';

/** A metric as protobufjs decodes it (camel-cased field names). */
export interface WireMetric {
  name?: string;
  alias?: LongLike;
  timestamp?: LongLike;
  datatype?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  properties?: { keys?: string[]; values?: Array<Record<string, unknown>> };
  value?: ValueField;
  intValue?: number;
  longValue?: LongLike;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface WirePayload {
  timestamp?: LongLike;
  seq?: LongLike;
  uuid?: string;
  metrics?: WireMetric[];
}

const toNumber = (v: LongLike | undefined): number | null =>
  v === undefined || v === null ? null : typeof v === 'number' ? v : v.toNumber();

/** Decodes a Sparkplug B payload; throws (protobufjs' message) when the bytes are not one. */
export function decodePayload(bytes: Uint8Array): WirePayload {
  return PayloadType.decode(bytes) as unknown as WirePayload;
}

/** Encodes a payload given as a plain object (camel-cased fields, numbers for the 64-bit ones). */
export function encodePayload(payload: object): Uint8Array {
  return PayloadType.encode(PayloadType.fromObject(payload)).finish();
}

/** Re-encodes a decoded payload after its metrics were completed (names, types, timestamps). */
export function reencodePayload(payload: WirePayload): Uint8Array {
  return PayloadType.encode(payload as unknown as protobuf.Message).finish();
}

// Decoded messages read unset fields as their defaults (from the prototype): only own fields were sent.
const own = <T extends object>(o: T, key: keyof T): boolean => Object.hasOwn(o, key);
export const payloadSeq = (p: WirePayload): number | null => (own(p, 'seq') ? toNumber(p.seq) : null);
export const payloadTimestamp = (p: WirePayload): number | null => (own(p, 'timestamp') ? toNumber(p.timestamp) : null);
export const metricName = (m: WireMetric): string | null => (own(m, 'name') ? m.name! : null);
export const metricAlias = (m: WireMetric): number | null => (own(m, 'alias') ? toNumber(m.alias) : null);
export const metricTimestamp = (m: WireMetric): number | null => (own(m, 'timestamp') ? toNumber(m.timestamp) : null);
export const metricType = (m: WireMetric): number | null => (own(m, 'datatype') ? m.datatype! : null);
export const metricIsNull = (m: WireMetric): boolean => own(m, 'isNull') && m.isNull === true;

/**
 * A metric's value as a number, by its data type: Sparkplug carries signed integers as unsigned
 * two's complement in int_value/long_value; booleans read as 0/1. Anything else returns a refusal text.
 */
export function metricNumber(m: WireMetric, datatype: number | null): number | string {
  const field = m.value;
  switch (field) {
    case 'intValue': {
      const v = m.intValue!;
      if (datatype === DataType.Int8) return (v << 24) >> 24;
      if (datatype === DataType.Int16) return (v << 16) >> 16;
      if (datatype === DataType.Int32) return v | 0;
      return v >>> 0;
    }
    case 'longValue': {
      const v = m.longValue!;
      if (typeof v === 'number') return v;
      return datatype === DataType.Int64 ? v.toSigned().toNumber() : v.toNumber();
    }
    case 'floatValue':
      return m.floatValue!;
    case 'doubleValue':
      return m.doubleValue!;
    case 'booleanValue':
      return m.booleanValue ? 1 : 0;
    case undefined:
      return 'has no value';
    default:
      return `is ${dataTypeName(datatype)} (${field.replace('Value', '')}), not a number or boolean`;
  }
}

/** Types whose values are stored; the rest are refused as sparkplug_unsupported_type. */
export const STORED_TYPES = new Set<number>([
  DataType.Int8,
  DataType.Int16,
  DataType.Int32,
  DataType.Int64,
  DataType.UInt8,
  DataType.UInt16,
  DataType.UInt32,
  DataType.UInt64,
  DataType.Float,
  DataType.Double,
  DataType.Boolean,
]);

/** Unit and engineering range from a BIRTH metric's properties (engUnit/engLow/engHigh, as Ignition names them). */
export function metricDescription(m: WireMetric): { unit?: string; low?: number; high?: number } | null {
  const keys = m.properties?.keys;
  const values = m.properties?.values;
  if (!keys || !values) return null;
  const out: { unit?: string; low?: number; high?: number } = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!.toLowerCase();
    const v = values[i];
    if (!v) continue;
    const text = typeof v.stringValue === 'string' ? v.stringValue : null;
    const num =
      typeof v.doubleValue === 'number'
        ? v.doubleValue
        : typeof v.floatValue === 'number'
          ? v.floatValue
          : typeof v.intValue === 'number'
            ? v.intValue | 0
            : v.longValue !== undefined
              ? toNumber(v.longValue as LongLike)
              : text !== null && text.trim() !== '' && Number.isFinite(Number(text))
                ? Number(text)
                : null;
    if ((key === 'engunit' || key === 'engunits' || key === 'unit' || key === 'units') && text) out.unit = text.slice(0, 32);
    else if ((key === 'englow' || key === 'min') && num !== null && Number.isFinite(num)) out.low = num;
    else if ((key === 'enghigh' || key === 'max') && num !== null && Number.isFinite(num)) out.high = num;
  }
  return out.unit !== undefined || out.low !== undefined || out.high !== undefined ? out : null;
}
