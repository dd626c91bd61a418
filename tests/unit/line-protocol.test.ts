import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineProtocolWriter } from '../../src/store/line-protocol.js';

const M = { site: 'p1', line: 'l1', machine: 'm1' };

describe('line protocol', () => {
  const w = new LineProtocolWriter('telemetry', 'events');

  it('writes samples with sorted tags, float fields and ms timestamps (0 included)', () => {
    expect(w.lines({ samples: [{ machine: M, ts: 0, values: { temp: 40.5, vib: 3, big: 1e21, neg: -0.25 } }], events: [] })).toBe(
      'telemetry,line=l1,machine=m1,site=p1 temp=40.5,vib=3,big=1e+21,neg=-0.25 0\n',
    );
  });

  it('writes events with quoted, escaped string fields', () => {
    expect(w.lines({ samples: [], events: [{ machine: M, ts: 5, type: 'failure', component: 'bearing "B"', note: 'a\\b\nc' }] })).toBe(
      'events,line=l1,machine=m1,site=p1,type=failure component="bearing \\"B\\"",note="a\\\\b\\nc" 5\n',
    );
  });

  it('escapes keys that need it', () => {
    expect(w.lines({ samples: [{ machine: { site: 'a b', line: 'x,y', machine: 'k=v' }, ts: 1, values: { 'a b': 1 } }], events: [] })).toBe(
      'telemetry,line=x\\,y,machine=k\\=v,site=a\\ b a\\ b=1 1\n',
    );
  });

  it('skips samples without values and joins lines with newlines', () => {
    expect(
      w.lines({
        samples: [
          { machine: M, ts: 1, values: {} },
          { machine: M, ts: 2, values: { a: 1 } },
          { machine: M, ts: 3, values: { a: 2 } },
        ],
        events: [],
      }),
    ).toBe('telemetry,line=l1,machine=m1,site=p1 a=1 2\ntelemetry,line=l1,machine=m1,site=p1 a=2 3\n');
  });

  it('writes every finite double so that it parses back to the same double, in few characters', () => {
    const fieldOf = (v: number) => {
      const line = w.lines({ samples: [{ machine: M, ts: 1, values: { v } }], events: [] });
      return line.slice(line.indexOf(' v=') + 3, line.lastIndexOf(' '));
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 1000),
          fc.integer().map((n) => n / 100),
        ),
        (v) => {
          const text = fieldOf(v);
          expect(Number(text)).toBe(v === 0 ? 0 : v);
          expect(text).toMatch(/^-?(\d+(\.\d+)?|\d(\.\d+)?e[+-]\d+)$/);
          expect(text.length).toBeLessThanOrEqual(String(v).length + 1);
        },
      ),
      { numRuns: 20_000 },
    );
    expect([0.05, -0.001, 123.456, 3, -0, 1e21, 2 ** 53, 0.1 + 0.2].map(fieldOf)).toEqual([
      '0.05',
      '-0.001',
      '123.456',
      '3',
      '0',
      '1e+21',
      '9007199254740992',
      '0.30000000000000004',
    ]);
  });

  it('keeps each batch intact across many batches and slabs', () => {
    const writer = new LineProtocolWriter('telemetry', 'events');
    const values = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`sensor_${i}`, i + 0.125]));
    const encoded = Array.from({ length: 5000 }, (_, i) => writer.encode({ samples: [{ machine: M, ts: i, values }], events: [] }));
    const line = (i: number) =>
      `telemetry,line=l1,machine=m1,site=p1 ${Object.entries(values)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')} ${i}\n`;
    encoded.forEach((bytes, i) => expect(bytes.toString()).toBe(line(i)));
    // More than one slab's worth: the earlier batches were not overwritten by the later ones.
    expect(encoded.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(1 << 20);
  });

  it('reserves room for every byte it writes, names of three-byte characters and the longest floats included', () => {
    const writer = new LineProtocolWriter('telemetry', 'events');
    const sink = {
      buf: Buffer.alloc(0),
      pos: 0,
      reserved: 0,
      reserve(bytes: number) {
        this.reserved = bytes;
        if (this.pos + bytes > this.buf.length) {
          this.buf = Buffer.alloc(bytes);
          this.pos = 0;
        }
      },
    };
    // Ten fields whose names take three bytes a character and whose values take 24 characters.
    const values = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${'€'.repeat(20)}${i}`, -1.2345678901234567e-100]));
    const written = writer.encodeInto({ samples: [{ machine: M, ts: 2 ** 52, values }], events: [] }, sink);
    expect(written).toBeLessThanOrEqual(sink.reserved);
    const fields = Object.keys(values)
      .map((k) => `${k}=-1.2345678901234567e-100`)
      .join(',');
    expect(sink.buf.toString('utf8', 0, written)).toBe(`telemetry,line=l1,machine=m1,site=p1 ${fields} ${2 ** 52}\n`);
  });
});
