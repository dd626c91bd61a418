import { describe, expect, it } from 'vitest';
import { MessageDecoder, type DecoderOptions } from '../../src/ingest/decoder.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const base: DecoderOptions = {
  telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
  eventTopics: ['vigil/{site}/{line}/{machine}/events'],
  format: 'auto',
  maxPayloadBytes: 1024,
  maxFutureSkewMs: 300_000,
  maxAgeMs: 86_400_000,
  allowMachines: [],
  lineProtocolPrecision: 'ms',
};
const enc = (s: string) => Buffer.from(s);

describe('message decoder', () => {
  const d = new MessageDecoder(base);

  it('routes telemetry and events by topic, machine from the topic', () => {
    const t = d.decode('vigil/p1/l1/m1/telemetry', enc(JSON.stringify({ ts: NOW, values: { a: 1 } })), NOW);
    expect(t.kind).toBe('telemetry');
    expect(t.batch.samples[0]?.machine).toEqual({ site: 'p1', line: 'l1', machine: 'm1' });
    const e = d.decode('vigil/p1/l1/m1/events', enc(JSON.stringify({ ts: NOW, type: 'failure' })), NOW);
    expect(e.kind).toBe('events');
    expect(e.batch.events).toHaveLength(1);
  });

  it('detects line protocol', () => {
    const r = d.decode('vigil/p1/l1/m1/telemetry', enc(`telemetry a=1 ${NOW}`), NOW);
    expect(r.batch.samples).toEqual([{ machine: { site: 'p1', line: 'l1', machine: 'm1' }, ts: NOW, values: { a: 1 } }]);
  });

  it.each([
    ['oversize payload', 'vigil/p/l/m/telemetry', enc(JSON.stringify({ ts: NOW, values: { a: 'x'.repeat(2000) } })), 'payload_too_large'],
    ['invalid UTF-8', 'vigil/p/l/m/telemetry', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_encoding'],
    ['unknown topic', 'other/topic', enc('{}'), 'bad_topic'],
    ['machine level with a space', 'vigil/p/l/bad machine/telemetry', enc('{}'), 'bad_topic'],
  ])('refuses %s', (_n, topic, payload, reason) => {
    const r = d.decode(topic, payload, NOW);
    expect(r.batch.samples).toEqual([]);
    expect(r.rejections[0]?.reason).toBe(reason);
  });

  it('applies the machine allow-list per reading', () => {
    const strict = new MessageDecoder({ ...base, allowMachines: ['m1'] });
    const lp = `telemetry,machine=m1 a=1 ${NOW}\ntelemetry,machine=intruder a=2 ${NOW}`;
    const r = strict.decode('vigil/p/l/m1/telemetry', enc(lp), NOW);
    expect(r.batch.samples.map((s) => s.machine.machine)).toEqual(['m1']);
    expect(r.rejections).toEqual([{ reason: 'unknown_machine', detail: 'machine intruder' }]);
  });

  it('lists one subscription filter per distinct pattern', () => {
    expect(d.filters).toEqual(['vigil/+/+/+/telemetry', 'vigil/+/+/+/events']);
  });
});
