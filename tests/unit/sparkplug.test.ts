import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SensorMetadata } from '../../src/core/sensor-metadata.js';
import { PresenceFeed, type PresenceChange } from '../../src/core/presence.js';
import { MessageDecoder, type DecoderOptions } from '../../src/ingest/decoder.js';
import { decodePayload, metricName } from '../../src/ingest/sparkplug/codec.js';
import { SparkplugHost, type SparkplugHostOptions } from '../../src/ingest/sparkplug/host.js';
import { parseSparkplugTopic, sparkplugFilters } from '../../src/ingest/sparkplug/mapping.js';
import { TestEdgeNode } from '../support/sparkplug.js';
import { mutatedBytes } from '../support/mutate.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const hostOptions: SparkplugHostOptions = {
  site: '{group}',
  line: '{node}',
  machine: '{device}',
  nodeMachine: '{node}',
  sensors: { 'Motor/Speed (rpm)': 'speed' },
  stripPrefixes: ['Sensors/'],
  ignore: ['Node Control/', 'Properties/', 'bdSeq'],
  rebirth: true,
  rebirthMinInterval: 10_000,
  rebirthsPerSecond: 100,
  maxNodes: 3,
  maxNewNodesPerMinute: 1000,
  maxAliases: 100,
};
const decoderOptions: DecoderOptions = {
  telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
  eventTopics: [],
  format: 'auto',
  maxPayloadBytes: 65_536,
  maxFutureSkewMs: 300_000,
  maxAgeMs: 30 * 86_400_000,
  allowMachines: [],
  lineProtocolPrecision: 'ms',
};

function setup(o: Partial<SparkplugHostOptions> = {}) {
  const metadata = new SensorMetadata({ T24: '°R' });
  const rebirths: string[] = [];
  const presence: PresenceChange[] = [];
  const feed = new PresenceFeed();
  feed.listen((c) => presence.push(c));
  const requestRebirth = (topic: string, payload: Uint8Array) => {
    const p = decodePayload(payload);
    expect(p.metrics?.map((m) => [metricName(m), m.booleanValue])).toEqual([['Node Control/Rebirth', true]]);
    rebirths.push(topic);
  };
  const host = new SparkplugHost({ ...hostOptions, ...o }, metadata, requestRebirth, feed);
  const decoder = new MessageDecoder({ ...decoderOptions, sparkplug: { host, groups: ['plant1'] } });
  let now = NOW;
  const decode = ([t, p]: [string, Uint8Array], at = now) => decoder.decode(t, p, at);
  return { host, metadata, rebirths, presence, decoder, decode, tick: (ms: number) => (now += ms) };
}

const birthMetrics = [
  {
    name: 'Sensors/Temperature',
    alias: 1,
    type: 'Float' as const,
    value: 20.5,
    properties: {
      engUnit: { type: 'String' as const, value: '°C' },
      engLow: { type: 'Double' as const, value: -20 },
      engHigh: { type: 'Double' as const, value: 120 },
    },
  },
  { name: 'Motor/Speed (rpm)', alias: 2, type: 'Int32' as const, value: -5 },
  { name: 'Running', alias: 3, type: 'Boolean' as const, value: true },
  { name: 'Counter', alias: 4, type: 'UInt64' as const, value: 12345678901 },
];

describe('Sparkplug B host', () => {
  it('subscribes to the six message types of each group', () => {
    expect(sparkplugFilters(['plant1'])).toEqual([
      'spBv1.0/plant1/NBIRTH/+',
      'spBv1.0/plant1/NDATA/+',
      'spBv1.0/plant1/NDEATH/+',
      'spBv1.0/plant1/DBIRTH/+/+',
      'spBv1.0/plant1/DDATA/+/+',
      'spBv1.0/plant1/DDEATH/+/+',
    ]);
    expect(parseSparkplugTopic('spBv1.0/g/DDATA/n')).toBeNull();
    expect(parseSparkplugTopic('spBv1.0/g/NDATA/n/d')).toBeNull();
    expect(parseSparkplugTopic('spBv1.0/g/NCMD/n')).toBeNull();
    expect(parseSparkplugTopic('spBv1.0/g/DDATA/n/d')).toEqual({ group: 'g', type: 'DDATA', node: 'n', device: 'd' });
  });

  it('maps a device to a machine and metrics to sensors; stores numbers and booleans with their types', () => {
    const { decode, metadata } = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    expect(decode(edge.nbirth(NOW, [])).rejections).toEqual([]);
    const r = decode(edge.dbirth('press-1', NOW - 1000, birthMetrics));
    expect(r.rejections).toEqual([]);
    expect(r.batch.samples).toEqual([
      {
        machine: { site: 'plant1', line: 'edge1', machine: 'press-1' },
        ts: NOW - 1000,
        values: { Temperature: 20.5, speed: -5, Running: 1, Counter: 12345678901 },
      },
    ]);
    expect(metadata.describe('press-1', 'Temperature')).toEqual({ unit: '°C', low: -20, high: 120 });
    expect(metadata.describe('press-1', 'T24')).toEqual({ unit: '°R' });
  });

  it('resolves alias-only DATA from the BIRTH, per-metric timestamps, and journals the completed payload', () => {
    const { decode } = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    decode(edge.nbirth(NOW, []));
    decode(edge.dbirth('press-1', NOW, birthMetrics));
    const msg = edge.ddata('press-1', NOW + 1000, [
      { alias: 1, type: 'Float', value: 21.25 },
      { alias: 2, type: 'Int32', value: -7, timestamp: NOW + 500 },
    ]);
    const live = decode(msg, NOW + 1000);
    expect(live.rejections).toEqual([]);
    expect(live.batch.samples.map((s) => [s.ts, s.values])).toEqual([
      [NOW + 1000, { Temperature: 21.25 }],
      [NOW + 500, { speed: -7 }],
    ]);
    expect(live.journalPayload).toBeDefined();
    // Read back from the journal in a fresh daemon (no BIRTH seen): the same batch, and no session state moved.
    const fresh = setup();
    const again = fresh.decoder.replay(msg[0], live.journalPayload!, NOW + 1000);
    expect(again.batch).toEqual(live.batch);
    expect(fresh.rebirths).toEqual([]);
    expect(fresh.host.counters.dataBeforeBirth).toBe(0);
  });

  it('asks for a rebirth on a seq gap and on DATA before BIRTH, at most once per interval', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    const unknown = s.decode(edge.ddata('press-1', NOW, [{ alias: 1, type: 'Float', value: 1 }]));
    expect(unknown.rejections.map((r) => r.reason)).toEqual(['sparkplug_unknown_alias']);
    expect(s.rebirths).toEqual(['spBv1.0/plant1/NCMD/edge1']);
    expect(s.host.counters.dataBeforeBirth).toBe(1);
    s.decode(edge.nbirth(NOW, []));
    s.decode(edge.dbirth('press-1', NOW, birthMetrics));
    edge.skip(2);
    s.tick(5000);
    const gap = s.decode(edge.ddata('press-1', NOW, [{ alias: 1, type: 'Float', value: 2 }]));
    expect(gap.batch.samples).toHaveLength(1); // known aliases still resolve
    expect(s.host.counters.seqGaps).toBe(1);
    expect(s.rebirths).toHaveLength(1); // held back: 5 s after the last request
    expect(s.host.counters.rebirthsHeldBack).toBe(1);
    edge.skip(1);
    s.tick(6000);
    s.decode(edge.ddata('press-1', NOW, [{ alias: 1, type: 'Float', value: 3 }]));
    expect(s.rebirths).toHaveLength(2);
    // seq wraps at 255 without a gap
    s.decode(edge.nbirth(NOW, []));
    for (let i = 0; i < 300; i++) s.decode(edge.ndata(NOW, [{ name: 'x', type: 'Double', value: i }]));
    expect(s.host.counters.seqGaps).toBe(2);
  });

  it('a DEATH marks the node and its devices offline; a late will of an old session is ignored', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    edge.bdSeq = 4;
    s.decode(edge.nbirth(NOW, []));
    s.decode(edge.dbirth('press-1', NOW, birthMetrics));
    s.decode(edge.dbirth('press-2', NOW, birthMetrics));
    expect(s.decode(edge.ndeath(3)).rejections).toEqual([]);
    expect(s.host.counters.staleDeaths).toBe(1);
    expect(s.presence.filter((p) => !p.online)).toEqual([]);
    const death = s.decode(edge.ndeath(4));
    expect(death.batch.samples).toEqual([]);
    expect(death.rejections).toEqual([]);
    const off = s.presence.filter((p) => !p.online);
    expect(off).toHaveLength(1);
    expect(off[0]!.source).toBe('plant1/edge1');
    expect(off[0]!.machines.map((m) => m.machine)).toEqual(['edge1', 'press-1', 'press-2']);
    expect(s.host.offlineMachines()).toBe(3);
    edge.bdSeq = 5;
    s.decode(edge.nbirth(NOW, []));
    s.decode(edge.dbirth('press-1', NOW, birthMetrics));
    expect(s.host.offlineMachines()).toBe(1);
    s.decode(edge.ddeath('press-1', NOW));
    expect(s.presence.at(-1)).toMatchObject({ online: false, source: 'plant1/edge1/press-1', cause: 'DDEATH' });
  });

  it('refuses strings, datasets and templates with a reason, keeping the numbers beside them', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    s.decode(edge.nbirth(NOW, []));
    const r = s.decode(
      edge.ndata(NOW, [
        { name: 'Label', type: 'String', value: 'hello' },
        { name: 'Table', type: 'DataSet', value: { numOfColumns: 1, columns: ['a'], types: ['Int32'], rows: [[1]] } },
        { name: 'Bad name/☃', type: 'Double', value: 1 },
        { name: 'Pressure', type: 'Double', value: 4.5 },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      ]),
    );
    expect(r.rejections.map((x) => x.reason)).toEqual(['sparkplug_unsupported_type', 'sparkplug_unsupported_type']);
    expect(r.batch.samples[0]!.values).toEqual({ Bad_name: 1, Pressure: 4.5 });
  });

  it('refuses a message of more metrics than a JSON message may hold readings', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    s.decode(edge.nbirth(NOW, []));
    const many = Array.from({ length: 10_001 }, (_, i) => ({ name: `m${i}`, type: 'Double' as const, value: i }));
    // Straight to the host: the test decoder's 64 KiB payload limit would refuse it first.
    const r = s.host.decode(...edge.ndata(NOW, many), { now: NOW, maxFutureSkewMs: 300_000, maxAgeMs: 86_400_000 });
    expect(r.rejections.map((x) => x.reason)).toEqual(['too_many_items']);
    expect(r.batch.samples).toEqual([]);
  });

  it('keeps state for at most maxNodes edge nodes; an evicted node is asked to rebirth', () => {
    const s = setup();
    for (let i = 0; i < 5; i++)
      s.decode(new TestEdgeNode('plant1', `e${i}`).nbirth(NOW, [{ name: 'a', alias: 1, type: 'Double', value: 1 }]));
    expect(s.host.nodes).toBe(3);
    const e0 = new TestEdgeNode('plant1', 'e0');
    e0.skip(1);
    expect(s.decode(e0.ndata(NOW, [{ alias: 1, type: 'Double', value: 1 }])).rejections[0]?.reason).toBe('sparkplug_unknown_alias');
    expect(s.rebirths).toEqual(['spBv1.0/plant1/NCMD/e0']);
  });

  it('invented node names cannot push real nodes out, nor make Vigil publish or keep state without bound', () => {
    const s = setup({ maxNodes: 100, maxNewNodesPerMinute: 50, rebirthsPerSecond: 2 });
    const real = Array.from({ length: 10 }, (_, i) => new TestEdgeNode('plant1', `real${i}`));
    for (const e of real) s.decode(e.nbirth(NOW, [{ name: 'a', alias: 1, type: 'Double', value: 1 }]));
    // 3,000 invented nodes each send one DATA (a rebirth request each, if nothing bounded it).
    for (let i = 0; i < 3000; i++) {
      const fake = new TestEdgeNode('plant1', `fake${i}`);
      fake.skip(1);
      s.decode(fake.ndata(NOW, [{ name: 'a', type: 'Double', value: 1 }]));
      if (i % 100 === 99) s.tick(1000);
    }
    // New sessions at 50 a minute (a full minute's burst, then the refill): the rest decoded without state.
    expect(s.host.counters.newNodesHeldBack).toBeGreaterThan(2900);
    expect(s.host.nodes).toBeLessThanOrEqual(100);
    // Rebirth requests at 2 a second overall (a burst of 10 first), not one per invented name.
    expect(s.rebirths.length).toBeLessThanOrEqual(10 + 2 * 30);
    // Every real node kept its session and aliases.
    for (const e of real) expect(s.decode(e.ndata(NOW, [{ alias: 1, type: 'Double', value: 2 }])).rejections).toEqual([]);
  });

  it('a node that never sent a BIRTH is dropped before born ones when the table is full', () => {
    const s = setup({ maxNodes: 3 });
    const born = [0, 1].map((i) => new TestEdgeNode('plant1', `born${i}`));
    for (const e of born) s.decode(e.nbirth(NOW, [{ name: 'a', alias: 1, type: 'Double', value: 1 }]));
    for (let i = 0; i < 20; i++)
      s.decode(new TestEdgeNode('plant1', `data-only${i}`).ndata(NOW, [{ name: 'a', type: 'Double', value: 1 }]));
    expect(s.host.nodes).toBe(3);
    for (const e of born) expect(s.decode(e.ndata(NOW, [{ alias: 1, type: 'Double', value: 2 }])).rejections).toEqual([]);
  });

  it('counts a death once: repeated NDEATHs and the deaths of unknown nodes are ignored and keep no state', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    s.decode(edge.nbirth(NOW, []));
    s.decode(edge.ndeath(edge.bdSeq));
    for (let i = 0; i < 5; i++) s.decode(edge.ndeath(edge.bdSeq));
    expect(s.host.counters.deaths).toBe(1);
    expect(s.host.counters.staleDeaths).toBe(5);
    expect(s.presence.filter((p) => !p.online)).toHaveLength(1);
    for (let i = 0; i < 50; i++) s.decode(new TestEdgeNode('plant1', `ghost${i}`).ndeath(0));
    expect(s.host.nodes).toBe(1);
    expect(s.host.counters.staleDeaths).toBe(55);
  });

  it('metric names that are keys of every object are plain names, never looked up on a prototype', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    s.decode(edge.nbirth(NOW, []));
    const r = s.decode(
      edge.ndata(NOW, [
        { name: 'constructor', type: 'Double', value: 1 },
        { name: 'toString', type: 'Double', value: 2 },
        { name: '__proto__', type: 'Double', value: 3 },
        { name: 'hasOwnProperty', type: 'Double', value: 4 },
      ]),
    );
    expect(r.rejections).toEqual([]);
    expect(Object.entries(r.batch.samples[0]!.values)).toEqual([
      ['constructor', 1],
      ['toString', 2],
      ['proto', 3],
      ['hasOwnProperty', 4],
    ]);
    // Units from the config are own properties too.
    expect(s.metadata.describe('edge1', 'constructor')).toBeUndefined();
  });

  it('never throws on random or mutated payloads', () => {
    const s = setup();
    const edge = new TestEdgeNode('plant1', 'edge1');
    const [, valid] = edge.dbirth('press-1', NOW, birthMetrics);
    const topics = fc.constantFrom(
      'spBv1.0/plant1/DBIRTH/edge1/press-1',
      'spBv1.0/plant1/NDATA/edge1',
      'spBv1.0/plant1/NDEATH/edge1',
      'spBv1.0/x/STATE/y',
      'spBv1.0/plant1/NBIRTH/bad node',
    );
    fc.assert(
      fc.property(topics, fc.oneof(fc.uint8Array({ maxLength: 200 }), mutatedBytes(fc.constant(valid))), (topic, bytes) => {
        const r = s.decoder.decode(topic, bytes, NOW);
        for (const x of r.rejections) expect(typeof x.detail).toBe('string');
      }),
      { numRuns: 1500 },
    );
  });
});
