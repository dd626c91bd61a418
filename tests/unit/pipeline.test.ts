import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { IngestBatch } from '../../src/core/types.js';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { MessageDecoder, type DecoderOptions } from '../../src/ingest/decoder.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { IngestStats } from '../../src/ingest/stats.js';
import { FleetCap } from '../../src/ingest/fleet-cap.js';
import type { Clock } from '../../src/core/clock.js';
import { ManualClock } from '../support/manual-clock.js';

const options: DecoderOptions = {
  telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
  eventTopics: ['vigil/{site}/{line}/{machine}/events'],
  format: 'auto',
  maxPayloadBytes: 65536,
  maxFutureSkewMs: 300_000,
  maxAgeMs: 86_400_000,
  allowMachines: [],
  lineProtocolPrecision: 'ms',
};

class BuggyDecoder extends MessageDecoder {
  override decode(topic: string, payload: Uint8Array, now: number) {
    if (topic.includes('buggy')) throw new TypeError("Cannot read properties of undefined (reading 'x')");
    return super.decode(topic, payload, now);
  }
}

function setup(deadLetterFails = false, fleet?: FleetCap, clock: Clock = systemClock) {
  const accepted: IngestBatch[] = [];
  const letters: DeadLetter[] = [];
  const stats = new IngestStats(systemClock);
  const pipeline = new IngestPipeline(
    new BuggyDecoder(options),
    { accept: (b) => void accepted.push(b) },
    {
      record: (l) => {
        if (deadLetterFails) throw new Error('SQLITE_FULL: database or disk is full');
        letters.push(l);
      },
    },
    stats,
    clock,
    fleet,
  );
  return { pipeline, accepted, letters, stats };
}

const now = Date.now();
const payload = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('ingest pipeline', () => {
  it('counts messages, readings and rejects, and dead-letters what was refused', () => {
    const { pipeline, accepted, letters, stats } = setup();
    pipeline.handle(
      'vigil/p/l/m1/telemetry',
      payload([
        { ts: now, values: { a: 1, b: 2 } },
        { ts: now, values: { c: 'x' } },
      ]),
    );
    pipeline.handle('vigil/p/l/m1/telemetry', Buffer.from('{oops'));
    expect(accepted).toHaveLength(1);
    expect(stats).toMatchObject({ messagesReceived: 2, messagesAccepted: 1, messagesRejected: 1, readingsAccepted: 2 });
    expect(stats.rejectedByReason).toEqual({ non_numeric_value: 1, bad_json: 1 });
    expect(letters.map((l) => [l.accepted, l.rejections[0]?.reason])).toEqual([
      [1, 'non_numeric_value'],
      [0, 'bad_json'],
    ]);
    expect(letters[1]?.excerpt).toBe('{oops');
  });

  it('turns a decoder bug into a counted, dead-lettered rejection instead of a crash', () => {
    const { pipeline, letters, stats } = setup();
    expect(() => pipeline.handle('vigil/p/l/buggy/telemetry', payload({ ts: now, values: { a: 1 } }))).not.toThrow();
    expect(stats.rejectedByReason).toEqual({ internal_error: 1 });
    expect(letters[0]?.rejections[0]?.detail).toMatch(/Cannot read properties/);
  });

  it('keeps good readings when the dead-letter log cannot be written', () => {
    const { pipeline, accepted, stats } = setup(true);
    pipeline.handle(
      'vigil/p/l/m1/telemetry',
      payload([
        { ts: now, values: { a: 1 } },
        { ts: 'bad', values: { a: 2 } },
      ]),
    );
    expect(accepted).toHaveLength(1);
    expect(stats.deadLetterErrors).toBe(1);
  });

  it('beyond ingest.maxMachines a machine is stored but not tracked: counted per message, dead-lettered at most once a second', () => {
    const clock = new ManualClock();
    const fleet = new FleetCap(2);
    const { pipeline, accepted, letters, stats } = setup(false, fleet, clock);
    const reading = () => payload({ ts: clock.now(), values: { a: 1 } });
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm1']) pipeline.handle(`vigil/p/l/${m}/telemetry`, reading());
    // Every message is stored, those of m3 and m4 are not tracked.
    expect(accepted).toHaveLength(5);
    expect([fleet.has('m1'), fleet.has('m2'), fleet.has('m3'), fleet.has('m4')]).toEqual([true, true, false, false]);
    expect(fleet.stats).toEqual({ tracked: 2, max: 2, untrackedMessages: 2 });
    expect(stats.rejectedByReason).toEqual({ machine_limit: 2 });
    expect(letters.map((l) => [l.accepted, l.rejections[0]?.detail])).toEqual([
      [1, expect.stringMatching(/machine m3 is beyond ingest.maxMachines \(2 tracked\)/)],
    ]);
    clock.advance(1000);
    pipeline.handle('vigil/p/l/m4/telemetry', reading());
    expect(letters).toHaveLength(2);
  });
});
