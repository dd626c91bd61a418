import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MessageSink } from '../../simulators/core/sink.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { cmapssDefaults, cmapssSource, parseCmapss } from '../../simulators/replay/cmapss.js';
import { csvSource, parseTimestamp, splitCsvLine } from '../../simulators/replay/csv.js';
import { runReplay } from '../../simulators/replay/run.js';
import { StrictModeError } from '../../simulators/replay/source.js';
import { tempDir } from '../support/fixtures.js';

const row = (unit: number, cycle: number) => `${unit} ${cycle} ${Array.from({ length: 24 }, (_, i) => (i * 1.5).toFixed(2)).join(' ')} `;

class MemorySink implements MessageSink {
  readonly out: Array<{ topic: string; payload: Record<string, unknown> }> = [];
  publish(topic: string, payload: string): void {
    this.out.push({ topic, payload: JSON.parse(payload) });
  }
  async close() {
    return { published: this.out.length, acked: this.out.length, failed: 0 };
  }
}

describe('C-MAPSS parser', () => {
  it('parses rows with trailing spaces into 24 named values and the cycle count', () => {
    const { rows, errors } = parseCmapss(`${row(1, 1)}\n${row(1, 2)}\n\n${row(2, 1)}\n`, 'f.txt');
    expect(errors).toEqual([]);
    expect(rows.map((r) => [r.unit, r.cycle, r.line])).toEqual([
      [1, 1, 1],
      [1, 2, 2],
      [2, 1, 4],
    ]);
    expect(Object.keys(rows[0]!.values)).toHaveLength(25);
    expect(rows[1]!.values.cycle).toBe(2);
    expect(rows[0]!.values.op1).toBe(0);
    expect(rows[0]!.values.s21).toBe(34.5);
  });

  it.each([
    ['1 1 2 3', /expected 26 columns/],
    [row(1, 1).replace(' 3.00 ', ' x3 '), /column 5 \(op3\) is not a number: "x3"/],
    [row(1, 1).replace(/^1 1/, '1 0'), /positive integers/],
    [row(1, 1).replace(/^1 1/, '1.5 1'), /positive integers/],
  ])('reports a bad row with file and line: %s', (bad, reason) => {
    const { rows, errors } = parseCmapss(`${row(1, 1)}\n${bad}\n${row(1, 2)}\n`, 'data/train.txt');
    expect(rows).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'data/train.txt', line: 2 });
    expect(errors[0]!.reason).toMatch(reason);
  });

  it('refuses a cycle that goes backwards', () => {
    const { errors } = parseCmapss(`${row(1, 1)}\n${row(1, 2)}\n${row(1, 2)}\n`, 'f');
    expect(errors[0]?.reason).toMatch(/cycle 2 of unit 1 does not follow cycle 2/);
  });

  it('stops at the first bad row in strict mode', () => {
    expect(() => parseCmapss(`${row(1, 1)}\nbroken\n`, 'f', true)).toThrow(StrictModeError);
  });

  it("replays units side by side, a failure one step after each unit's last cycle", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'train_FD001.txt');
    writeFileSync(file, [row(1, 1), row(1, 2), row(1, 3), row(2, 1), row(2, 2)].join('\n'));
    expect(cmapssDefaults(file)).toEqual({ line: 'fd001', machinePrefix: 'train-fd001-', failures: true });
    expect(cmapssDefaults('/x/test_FD001.txt').failures).toBe(false);
    const source = cmapssSource({
      file,
      now: 0,
      startMs: 1_000_000,
      stepMs: 60_000,
      site: 'cmapss',
      line: 'fd001',
      machinePrefix: 'e',
      failures: true,
      strict: false,
    });
    const sink = new MemorySink();
    const summary = await runReplay(source, { sink, speed: 'max', rateLimit: null, passes: 2, topicPrefix: 'vigil' });
    expect(summary).toMatchObject({ messages: 14, readings: 5 * 25 * 2, events: 4, passes: 2 });
    const firstPass = sink.out.slice(0, 7).map((m) => [m.topic, m.payload.ts, m.payload.type ?? 'reading']);
    expect(firstPass).toEqual([
      ['vigil/cmapss/fd001/e001/telemetry', 1_000_000, 'reading'],
      ['vigil/cmapss/fd001/e002/telemetry', 1_000_000, 'reading'],
      ['vigil/cmapss/fd001/e001/telemetry', 1_060_000, 'reading'],
      ['vigil/cmapss/fd001/e002/telemetry', 1_060_000, 'reading'],
      ['vigil/cmapss/fd001/e001/telemetry', 1_120_000, 'reading'],
      ['vigil/cmapss/fd001/e002/events', 1_120_000, 'failure'],
      ['vigil/cmapss/fd001/e001/events', 1_180_000, 'failure'],
    ]);
    // The second pass is shifted by the span, so no timestamp repeats.
    expect(sink.out[7]!.payload.ts).toBe(1_000_000 + 4 * 60_000);
  });
});

describe('CSV replay', () => {
  it('splits quoted fields and parses timestamps', () => {
    expect(splitCsvLine('a,"b,c","say ""hi""",', ',')).toEqual(['a', 'b,c', 'say "hi"', '']);
    expect(() => splitCsvLine('"open', ',')).toThrow(/unterminated/);
    expect(parseTimestamp('1700000000000')).toBe(1700000000000);
    expect(parseTimestamp('2026-01-01T00:00:00Z')).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(parseTimestamp('2026-01-01 00:00:00+01:00')).toBe(Date.parse('2025-12-31T23:00:00Z'));
    expect(parseTimestamp('2026-01-01T00:00:00')).toBeNull();
    expect(parseTimestamp('yesterday')).toBeNull();
  });

  it('replays rows and events in time order, skipping bad rows with their line numbers', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'plant.csv');
    writeFileSync(
      file,
      [
        'timestamp,machine,temp,vib',
        '2026-01-01T00:00:00Z,m1,40.5,0.1',
        '2026-01-01T00:01:00Z,m1,,0.2',
        '2026-01-01T00:02:00Z,m1,hot,0.2',
        'not-a-time,m1,1,1',
        '2026-01-01T00:03:00Z,bad machine,1,1',
        '2026-01-01T00:04:00Z,m2,41,0.3',
      ].join('\n'),
    );
    const events = path.join(dir, 'events.csv');
    writeFileSync(
      events,
      'ts,machine,type,component,note\n2026-01-01T00:01:30Z,m1,failure,bearing,"seized, loud"\n2026-01-01T00:05:00Z,m1,explode,,\n',
    );
    const source = await csvSource({
      file,
      eventsFile: events,
      machineColumn: 'machine',
      siteColumn: 'site',
      lineColumn: 'line',
      site: 's',
      line: 'l',
      delimiter: ',',
      strict: false,
      startMs: Date.parse('2026-06-01T00:00:00Z'),
    });
    const sink = new MemorySink();
    const summary = await runReplay(source, { sink, speed: 'max', rateLimit: null, passes: 1, topicPrefix: 'vigil' });
    expect(sink.out.map((m) => [m.topic, new Date(m.payload.ts as number).toISOString(), m.payload.values ?? m.payload.type])).toEqual([
      ['vigil/s/l/m1/telemetry', '2026-06-01T00:00:00.000Z', { temp: 40.5, vib: 0.1 }],
      ['vigil/s/l/m1/telemetry', '2026-06-01T00:01:00.000Z', { vib: 0.2 }],
      ['vigil/s/l/m1/events', '2026-06-01T00:01:30.000Z', 'failure'],
      ['vigil/s/l/m2/telemetry', '2026-06-01T00:04:00.000Z', { temp: 41, vib: 0.3 }],
    ]);
    expect(sink.out[2]!.payload).toMatchObject({ component: 'bearing', note: 'seized, loud' });
    expect(summary.errors.map((e) => [path.basename(e.file), e.line, e.reason.split(' ')[0]])).toEqual([
      ['events.csv', 3, 'type'],
      ['plant.csv', 4, 'column'],
      ['plant.csv', 5, 'timestamp'],
      ['plant.csv', 6, 'machine/site/line'],
    ]);
  });

  it('--loop over a file with no valid rows ends instead of spinning', async () => {
    const file = path.join(tempDir(), 'empty.csv');
    writeFileSync(file, 'ts,machine,a\nnot-a-time,m,1\n');
    const source = await csvSource({
      file,
      machineColumn: 'machine',
      siteColumn: 'site',
      lineColumn: 'line',
      site: 's',
      line: 'l',
      delimiter: ',',
      strict: false,
    });
    const summary = await runReplay(source, {
      sink: new MemorySink(),
      speed: 'max',
      rateLimit: null,
      passes: Infinity,
      topicPrefix: 'vigil',
    });
    expect(summary).toMatchObject({ messages: 0, passes: 1 });
    expect(summary.errors).toHaveLength(1);
  });

  it('names a missing column', async () => {
    const file = path.join(tempDir(), 'x.csv');
    writeFileSync(file, 'when,machine,a\n1700000000000,m,1\n');
    await expect(
      csvSource({
        file,
        machineColumn: 'machine',
        siteColumn: 'site',
        lineColumn: 'line',
        site: 's',
        line: 'l',
        delimiter: ',',
        strict: false,
      }),
    ).rejects.toThrow(/no timestamp column/);
  });
});

describe('shipped scenarios', () => {
  const dir = path.resolve(import.meta.dirname, '../../simulators/scenarios');
  it.each(['mixed-line.yaml', 'pump-station.yaml', 'fast-failures.yaml'])('%s validates', (name) => {
    expect(() => resolveScenario(loadScenarioFile(path.join(dir, name)), name)).not.toThrow();
  });
});
