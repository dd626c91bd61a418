import { describe, expect, it } from 'vitest';
import { decodeLineProtocol, parseLine, timestampToMs } from '../../src/ingest/decode-line-protocol.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ctx = { now: NOW, maxFutureSkewMs: 300_000, maxAgeMs: 365 * 86_400_000, precision: 'ns' as const };
const topicMachine = { site: 's', line: 'l', machine: 'from-topic' };
const ns = (ms: number) => `${ms}000000`;

describe('line protocol parser', () => {
  it('parses tags, typed fields and escapes', () => {
    const p = parseLine('my\\ meas,tag\\,1=a\\ b,machine=m1 f1=1.5,f2=-3i,f3=7u,f4=t,f5="say \\"hi\\"",f6=1e3 1700000000000000000');
    expect(p).toEqual({
      measurement: 'my meas',
      tags: { 'tag,1': 'a b', machine: 'm1' },
      fields: [
        ['f1', 1.5],
        ['f2', -3],
        ['f3', 7],
        ['f4', true],
        ['f5', 'say "hi"'],
        ['f6', 1000],
      ],
      timestamp: '1700000000000000000',
    });
  });

  it.each([
    ['meas', /missing fields/],
    ['meas,tag field=1', /tag tag has no value/],
    ['meas field=', /invalid value/],
    ['meas field=abc', /invalid value/],
    ['meas field="open', /unterminated string/],
    ['meas f=1 12x', /not an integer/],
    ['meas f=1 123 extra', /unexpected text/],
    [',t=1 f=1', /empty measurement/],
    ['meas f=-1u', /negative unsigned/],
  ])('refuses %s', (line, message) => {
    expect(() => parseLine(line)).toThrow(message);
  });

  it('converts timestamps by precision without float rounding', () => {
    expect(timestampToMs('1700000000123456789', 'ns')).toBe(1700000000123);
    expect(timestampToMs('1700000000123456', 'us')).toBe(1700000000123);
    expect(timestampToMs('1700000000123', 'ms')).toBe(1700000000123);
    expect(timestampToMs('1700000000', 's')).toBe(1700000000000);
  });
});

describe('line protocol decoder', () => {
  it('takes the machine from tags, prefixes non-telemetry measurements, maps booleans', () => {
    const text = [
      `telemetry,machine=m1,site=s2,line=l2 temp=40.5,running=true ${ns(NOW)}`,
      `bearing temp=70 ${ns(NOW - 1000)}`,
      '# a comment',
      '',
    ].join('\n');
    const r = decodeLineProtocol(text, topicMachine, ctx);
    expect(r.rejections).toEqual([]);
    expect(r.items).toEqual([
      { machine: { site: 's2', line: 'l2', machine: 'm1' }, ts: NOW, values: { temp: 40.5, running: 1 } },
      { machine: topicMachine, ts: NOW - 1000, values: { 'bearing.temp': 70 } },
    ]);
  });

  it('keeps good lines around bad ones and says which line failed', () => {
    const text = [
      `telemetry a=1 ${ns(NOW)}`,
      'garbage',
      `telemetry a=2`,
      `telemetry s="str" ${ns(NOW)}`,
      `telemetry a=3 ${ns(NOW + 3_600_000)}`,
      `telemetry a=4 ${ns(NOW - 10)}`,
    ].join('\r\n');
    const r = decodeLineProtocol(text, topicMachine, ctx);
    expect(r.items.map((s) => s.values.a)).toEqual([1, 4]);
    expect(r.rejections.map((x) => [x.reason, x.detail.split(':')[0]])).toEqual([
      ['bad_line_protocol', 'line 2'],
      ['missing_ts', 'line 3'],
      ['non_numeric_value', 'line 4'],
      ['ts_in_future', 'line 5'],
    ]);
  });

  it('refuses machine tags with characters outside the id alphabet', () => {
    const r = decodeLineProtocol(`telemetry,machine=a/b x=1 ${ns(NOW)}`, topicMachine, ctx);
    expect(r.items).toEqual([]);
    expect(r.rejections[0]?.reason).toBe('bad_topic');
  });
});
