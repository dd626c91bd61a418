/**
 * The fast telemetry reader against the general one (JSON.parse + validation): whatever it takes, it
 * reads exactly as the general decoder does — same ts, same doubles bit for bit, same key order — and
 * the text it keeps for InfluxDB reads back as those doubles. Whatever it declines, the general path
 * decides. Random readings, random whitespace and random byte mutations.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/types.js';
import { decodeJsonTelemetry } from '../../src/ingest/decode-json.js';
import { decodeTelemetryFast } from '../../src/ingest/fastpath/decode-json.js';
import { MessageDecoder } from '../../src/ingest/decoder.js';
import type { ValidationContext } from '../../src/ingest/validate.js';
import { LineProtocolWriter } from '../../src/store/line-protocol.js';
import { mutatedBytes } from '../support/mutate.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ctx: ValidationContext = { now: NOW, maxFutureSkewMs: 300_000, maxAgeMs: 30 * 86_400_000 };
const machine = { site: 'p', line: 'l', machine: 'm1' };
const NAMES = ['s0', 's1', 'temp', 'vib_rms', 'a.b', 'x:y', 'p-1', '7', '42', 'Z_9'];

// The general decoder learns good names as it validates them; the fast one takes only those.
decodeJsonTelemetry(JSON.stringify({ ts: NOW, values: Object.fromEntries(NAMES.map((n) => [n, 1])) }), machine, ctx);

/** Sensor values as gateways send them: short decimals mostly, any double now and then. */
const valueArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: -10_000_000, max: 10_000_000 }).chain((n) => fc.integer({ min: 0, max: 6 }).map((k) => n / 10 ** k)),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e21, 1e-7, 123456789012345, 1234567890123456, 0.1 + 0.2) },
);
const readingArb = fc.record({
  ts: fc.oneof(fc.integer({ min: NOW - 86_400_000, max: NOW + 60_000 }), fc.constantFrom(NOW - 40 * 86_400_000, NOW + 3_600_000, 0)),
  values: fc.dictionary(fc.constantFrom(...NAMES), valueArb, { minKeys: 0, maxKeys: 10 }),
  valuesFirst: fc.boolean(),
  space: fc.constantFrom('', ' ', '\n  ', '\t'),
});

function render(r: { ts: number; values: Record<string, number>; valuesFirst: boolean; space: string }): string {
  const s = r.space;
  const values = `{${s}${Object.entries(r.values)
    .map(([k, v]) => `${JSON.stringify(k)}${s}:${s}${JSON.stringify(v)}`)
    .join(`,${s}`)}${s}}`;
  const members = [`"ts"${s}:${s}${r.ts}`, `"values"${s}:${s}${values}`];
  return `${s}{${s}${(r.valuesFirst ? members.reverse() : members).join(`,${s}`)}${s}}${s}`;
}

/** The fast reading, if taken, must be the general decoder's, exactly. */
function agree(bytes: Uint8Array): Sample | null {
  const fast = decodeTelemetryFast(bytes, machine, ctx, true);
  if (!fast) return null;
  const text = Buffer.from(bytes).toString('utf8');
  const general = decodeJsonTelemetry(text, machine, ctx);
  expect(general.rejections).toEqual([]);
  expect(general.items).toHaveLength(1);
  const g = general.items[0]!;
  expect(fast.ts).toBe(g.ts);
  expect(Object.keys(fast.values)).toEqual(Object.keys(g.values));
  for (const k of Object.keys(g.values)) expect(Object.is(fast.values[k], g.values[k])).toBe(true);
  // The kept text is each value's decimal, reading back as the same double.
  const t = fast.valueText!;
  expect([...t.names].sort()).toEqual(Object.keys(g.values).sort());
  t.names.forEach((name, i) => {
    const decimal = Buffer.from(t.bytes.subarray(t.spans[2 * i]!, t.spans[2 * i + 1]!)).toString('latin1');
    expect(decimal).toMatch(/^-?(0|[1-9]\d*)(\.\d+)?$/);
    expect(Object.is(Number(decimal), g.values[name])).toBe(true);
  });
  return fast;
}

describe('fast telemetry reader', () => {
  it('reads what it takes exactly as JSON.parse and validation do, and takes the common message', () => {
    let taken = 0;
    let common = 0;
    fc.assert(
      fc.property(readingArb, (r) => {
        const fast = agree(Buffer.from(render(r)));
        const shortDecimals = Object.values(r.values).every(
          (v) => /^-?\d+(\.\d{1,6})?$/.test(JSON.stringify(v)) && JSON.stringify(v).replace(/[-.]/g, '').length <= 15,
        );
        const inWindow = r.ts >= NOW - ctx.maxAgeMs && r.ts <= NOW + ctx.maxFutureSkewMs;
        if (shortDecimals && inWindow && Object.keys(r.values).length > 0) {
          common++;
          // Short decimals, known names, ts in the window: this is what the fast path is for.
          expect(fast).not.toBeNull();
        }
        if (fast) taken++;
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300);
    // Every common message was taken (checked one by one above); the reader also takes longer
    // decimals (up to 15 digits), which a random double is now and then.
    expect(taken).toBeGreaterThanOrEqual(common);
  });

  it('declines what it cannot read exactly, leaving it to the general path', () => {
    const declined = [
      `[{"ts":${NOW},"values":{"s0":1}}]`,
      `{"ts":${NOW},"values":{"s0":1e3}}`,
      `{"ts":${NOW},"values":{"s0":1.2345678901234567}}`,
      `{"ts":${NOW},"values":{"s0":"1"}}`,
      `{"ts":${NOW},"values":{"s\\u0030":1}}`,
      `{"ts":${NOW},"values":{"unknown_yet":1}}`,
      `{"ts":${NOW},"values":{"s0":1,"s0":2}}`,
      `{"ts":${NOW},"values":{"__proto__":1}}`,
      `{"ts":${NOW},"values":{}}`,
      `{"ts":${NOW}.5,"values":{"s0":1}}`,
      `{"ts":-1,"values":{"s0":1}}`,
      `{"ts":${NOW - 40 * 86_400_000},"values":{"s0":1}}`,
      `{"ts":${NOW},"values":{"s0":01}}`,
      `{"ts":${NOW},"values":{"s0":1.}}`,
      `{"ts":${NOW},"values":{"s0":-}}`,
      `{"ts":${NOW},"values":{"s0":1},"extra":2}`,
      `{"ts":${NOW},"ts":${NOW},"values":{"s0":1}}`,
      `{"ts":${NOW},"values":{"s0":1}} x`,
      `{"ts":${NOW},"values":{"s0":1}`,
      `{"values":{"s0":1}}`,
      `{"ts":${NOW},"values":{"s0":1,}}`,
      `{"ts":${NOW},"values":{"tëmp":1}}`,
      `{"ts":${NOW},"values":{"s0":NaN}}`,
    ];
    for (const text of declined) expect(decodeTelemetryFast(Buffer.from(text), machine, ctx, false), text).toBeNull();
    expect(decodeTelemetryFast(Buffer.from(`{"ts":${NOW},"values":{"s0":-0.5,"s1":0}}`), machine, ctx, false)).toEqual({
      machine,
      ts: NOW,
      values: { s0: -0.5, s1: 0 },
    });
  });

  it('never throws on mutated bytes, and whatever it still takes agrees with the general path', () => {
    fc.assert(
      fc.property(mutatedBytes(readingArb.map(render)), (bytes) => {
        agree(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('through the message decoder: the same batch with or without the fast path, rejections included', () => {
    const options = {
      telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
      eventTopics: [],
      format: 'auto' as const,
      maxPayloadBytes: 65_536,
      maxFutureSkewMs: ctx.maxFutureSkewMs,
      maxAgeMs: ctx.maxAgeMs,
      allowMachines: ['m1'],
      lineProtocolPrecision: 'ms' as const,
    };
    const withText = new MessageDecoder({ ...options, keepValueText: true });
    fc.assert(
      fc.property(readingArb, fc.constantFrom('m1', 'm2'), (r, m) => {
        const topic = `vigil/p/l/${m}/telemetry`;
        const payload = Buffer.from(render(r));
        const got = withText.decode(topic, payload, NOW);
        const general = decodeJsonTelemetry(payload.toString(), { site: 'p', line: 'l', machine: m }, ctx);
        const allowed = m === 'm1';
        expect(got.batch.samples.map(({ machine: mm, ts, values }) => ({ machine: mm, ts, values }))).toEqual(allowed ? general.items : []);
        const reasons = got.rejections.map((x) => x.reason).sort();
        const expected = [...general.rejections.map((x) => x.reason), ...(allowed ? [] : general.items.map(() => 'unknown_machine'))];
        if (general.items.length === 0 && general.rejections.length === 0) expected.push('missing_values');
        expect(reasons).toEqual(expected.sort());
      }),
      { numRuns: 1000 },
    );
  });

  it('line protocol from the kept text stores the same doubles as from the values', () => {
    const lp = new LineProtocolWriter('telemetry', 'events');
    fc.assert(
      fc.property(readingArb, (r) => {
        const sample = decodeTelemetryFast(Buffer.from(render(r)), machine, ctx, true);
        if (!sample) return;
        const fields = (s: Sample) =>
          Object.fromEntries(
            lp
              .lines({ samples: [s], events: [] })
              .trim()
              .split(' ')[1]!
              .split(',')
              .map((f) => {
                const [k, v] = f.split('=');
                return [k, Number(v)];
              }),
          );
        const fromText = fields(sample);
        const fromValues = fields({ machine, ts: sample.ts, values: sample.values });
        expect(Object.keys(fromText).sort()).toEqual(Object.keys(fromValues).sort());
        for (const k of Object.keys(fromValues)) expect(Object.is(fromText[k], fromValues[k])).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fast telemetry reader names', () => {
  it('keeps its own copy of a name: a payload buffer written over afterwards changes nothing', () => {
    // Two names with the same 32-bit FNV-1a hash, so that only the stored bytes tell them apart.
    const [a, b] = ['samrnw', 'sa5pba'];
    decodeJsonTelemetry(JSON.stringify({ ts: NOW, values: { [a]: 1, [b]: 1 } }), machine, ctx);
    const window = Buffer.from(`{"ts":${NOW},"values":{"${a}":1.5}}`);
    expect(decodeTelemetryFast(window, machine, ctx, false)?.values).toEqual({ [a]: 1.5 });
    // The same memory reused for another message (as the journal's read window is).
    window.write(`{"ts":${NOW},"values":{"${b}":2.5}}`);
    expect(decodeTelemetryFast(window, machine, ctx, false)?.values).toEqual({ [b]: 2.5 });
    expect(decodeTelemetryFast(Buffer.from(`{"ts":${NOW},"values":{"${a}":3}}`), machine, ctx, false)?.values).toEqual({ [a]: 3 });
  });
});
