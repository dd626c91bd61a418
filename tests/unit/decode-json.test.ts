import { describe, expect, it } from 'vitest';
import { decodeJsonEvents, decodeJsonTelemetry } from '../../src/ingest/decode-json.js';
import type { RejectReason } from '../../src/core/reasons.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ctx = { now: NOW, maxFutureSkewMs: 5 * 60_000, maxAgeMs: 365 * 86_400_000 };
const machine = { site: 's', line: 'l', machine: 'm1' };

describe('JSON telemetry', () => {
  it('decodes a single reading with epoch ms', () => {
    const r = decodeJsonTelemetry(JSON.stringify({ ts: NOW, values: { temp: 41.5, vib: 0.02 } }), machine, ctx);
    expect(r.rejections).toEqual([]);
    expect(r.items).toEqual([{ machine, ts: NOW, values: { temp: 41.5, vib: 0.02 } }]);
  });

  it('decodes ISO-8601 timestamps with a zone, and arrays', () => {
    const r = decodeJsonTelemetry(
      JSON.stringify([
        { ts: '2026-06-01T11:59:00.250Z', values: { a: 1 } },
        { ts: '2026-06-01T13:59:00+02:00', values: { a: 2 } },
      ]),
      machine,
      ctx,
    );
    expect(r.rejections).toEqual([]);
    expect(r.items.map((s) => s.ts)).toEqual([NOW - 59_750, NOW - 60_000]);
  });

  // Each bad payload is refused with its own reason; nothing throws.
  const bad: Array<[string, string, RejectReason]> = [
    ['not JSON', '{"ts": 1,', 'bad_json'],
    ['a number', '42', 'bad_shape'],
    ['a string', '"hello"', 'bad_shape'],
    ['null', 'null', 'bad_shape'],
    ['unknown field', JSON.stringify({ ts: NOW, values: { a: 1 }, extra: 1 }), 'unknown_field'],
    ['missing ts', JSON.stringify({ values: { a: 1 } }), 'missing_ts'],
    ['ts as numeric string', JSON.stringify({ ts: String(NOW), values: { a: 1 } }), 'bad_ts'],
    ['ISO without zone', JSON.stringify({ ts: '2026-06-01T12:00:00', values: { a: 1 } }), 'bad_ts'],
    ['impossible date', JSON.stringify({ ts: '2026-13-45T12:00:00Z', values: { a: 1 } }), 'bad_ts'],
    // Date.parse would read these as 2026-03-02 and 2026-05-02: a wrong time stored is worse than none.
    ['30 February', JSON.stringify({ ts: '2026-02-30T10:00:00Z', values: { a: 1 } }), 'bad_ts'],
    ['31 April', JSON.stringify({ ts: '2026-04-31T10:00:00+02:00', values: { a: 1 } }), 'bad_ts'],
    ['hour 24', JSON.stringify({ ts: '2026-05-31T24:00:00Z', values: { a: 1 } }), 'bad_ts'],
    ['ts beyond any date', '{"ts": 1e20, "values": {"a": 1}}', 'ts_in_future'],
    ['ts far before 1970', '{"ts": -1e20, "values": {"a": 1}}', 'bad_ts'],
    ['a value nested 5,000 deep', `{"ts": ${NOW}, "values": {"a": ${'{"b":'.repeat(5000)}1${'}'.repeat(5000)}}}`, 'non_numeric_value'],
    ['values nested 5,000 deep in arrays', `{"ts": ${NOW}, "values": ${'['.repeat(5000)}${']'.repeat(5000)}}`, 'bad_shape'],
    ['__proto__ as the only sensor', `{"ts": ${NOW}, "values": {"__proto__": 1}}`, 'bad_sensor_name'],
    ['ts boolean', JSON.stringify({ ts: true, values: { a: 1 } }), 'bad_ts'],
    ['negative ts', JSON.stringify({ ts: -5, values: { a: 1 } }), 'bad_ts'],
    ['ts in future', JSON.stringify({ ts: NOW + 3_600_000, values: { a: 1 } }), 'ts_in_future'],
    ['epoch seconds', JSON.stringify({ ts: Math.floor(NOW / 1000), values: { a: 1 } }), 'ts_too_old'],
    ['missing values', JSON.stringify({ ts: NOW }), 'missing_values'],
    ['empty values', JSON.stringify({ ts: NOW, values: {} }), 'missing_values'],
    ['values array', JSON.stringify({ ts: NOW, values: [1, 2] }), 'bad_shape'],
    ['string value', JSON.stringify({ ts: NOW, values: { a: 'hot' } }), 'non_numeric_value'],
    ['null value', JSON.stringify({ ts: NOW, values: { a: null } }), 'non_numeric_value'],
    ['boolean value', JSON.stringify({ ts: NOW, values: { a: true } }), 'non_numeric_value'],
    ['NaN spelled', JSON.stringify({ ts: NOW, values: { a: 'NaN' } }), 'non_finite_value'],
    ['Infinity spelled', JSON.stringify({ ts: NOW, values: { a: '-Infinity' } }), 'non_finite_value'],
    ['overflow to Infinity', `{"ts": ${NOW}, "values": {"a": 1e999}}`, 'non_finite_value'],
    ['bad sensor name', JSON.stringify({ ts: NOW, values: { 'a b': 1 } }), 'bad_sensor_name'],
    ['reserved sensor name', JSON.stringify({ ts: NOW, values: { time: 1 } }), 'bad_sensor_name'],
    ['sensor named like a tag', JSON.stringify({ ts: NOW, values: { machine: 1 } }), 'bad_sensor_name'],
    ['too many items', JSON.stringify(Array.from({ length: 10_001 }, () => ({ ts: NOW, values: { a: 1 } }))), 'too_many_items'],
  ];
  it.each(bad)('refuses %s', (_name, payload, reason) => {
    const r = decodeJsonTelemetry(payload, machine, ctx);
    expect(r.items).toEqual([]);
    expect(r.rejections.map((x) => x.reason)).toContain(reason);
    expect(r.rejections.every((x) => x.detail.length > 0)).toBe(true);
  });

  it('keeps the good readings and values next to bad ones', () => {
    const r = decodeJsonTelemetry(
      JSON.stringify([
        { ts: NOW - 2000, values: { a: 1, b: 'x', c: 3 } },
        { ts: 'yesterday', values: { a: 2 } },
        { ts: NOW - 1000, values: { a: 4 } },
      ]),
      machine,
      ctx,
    );
    expect(r.items).toEqual([
      { machine, ts: NOW - 2000, values: { a: 1, c: 3 } },
      { machine, ts: NOW - 1000, values: { a: 4 } },
    ]);
    expect(r.rejections.map((x) => x.reason).sort()).toEqual(['bad_ts', 'non_numeric_value']);
  });
});

describe('JSON events', () => {
  it('decodes an event with optional fields', () => {
    const r = decodeJsonEvents(JSON.stringify({ ts: NOW, type: 'failure', component: 'bearing', note: 'seized' }), machine, ctx);
    expect(r.items).toEqual([{ machine, ts: NOW, type: 'failure', component: 'bearing', note: 'seized' }]);
  });

  it.each([
    [{ ts: NOW, type: 'explosion' }, 'bad_event_type'],
    [{ ts: NOW }, 'bad_event_type'],
    [{ ts: NOW, type: 'note', note: 5 }, 'bad_event_field'],
    [{ ts: NOW, type: 'note', component: 'x'.repeat(129) }, 'bad_event_field'],
    [{ ts: NOW, type: 'note', who: 'me' }, 'unknown_field'],
    [{ type: 'repair' }, 'missing_ts'],
  ] as const)('refuses %j', (event, reason) => {
    const r = decodeJsonEvents(JSON.stringify(event), machine, ctx);
    expect(r.items).toEqual([]);
    expect(r.rejections[0]?.reason).toBe(reason);
  });
});
