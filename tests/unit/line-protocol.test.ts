import { describe, expect, it } from 'vitest';
import { LineProtocolWriter } from '../../src/store/line-protocol.js';

const M = { site: 'p1', line: 'l1', machine: 'm1' };

describe('line protocol', () => {
  const w = new LineProtocolWriter('telemetry', 'events');

  it('writes samples with sorted tags, float fields and ms timestamps (0 included)', () => {
    expect(w.lines({ samples: [{ machine: M, ts: 0, values: { temp: 40.5, vib: 3, big: 1e21, neg: -0.25 } }], events: [] })).toBe('telemetry,line=l1,machine=m1,site=p1 temp=40.5,vib=3,big=1e+21,neg=-0.25 0\n');
  });

  it('writes events with quoted, escaped string fields', () => {
    expect(w.lines({ samples: [], events: [{ machine: M, ts: 5, type: 'failure', component: 'bearing "B"', note: 'a\\b\nc' }] })).toBe('events,line=l1,machine=m1,site=p1,type=failure component="bearing \\"B\\"",note="a\\\\b\\nc" 5\n');
  });

  it('escapes keys that need it', () => {
    expect(w.lines({ samples: [{ machine: { site: 'a b', line: 'x,y', machine: 'k=v' }, ts: 1, values: { 'a b': 1 } }], events: [] })).toBe('telemetry,line=x\\,y,machine=k\\=v,site=a\\ b a\\ b=1 1\n');
  });

  it('skips samples without values and joins lines with newlines', () => {
    expect(w.lines({ samples: [{ machine: M, ts: 1, values: {} }, { machine: M, ts: 2, values: { a: 1 } }, { machine: M, ts: 3, values: { a: 2 } }], events: [] })).toBe('telemetry,line=l1,machine=m1,site=p1 a=1 2\ntelemetry,line=l1,machine=m1,site=p1 a=2 3\n');
  });
});
