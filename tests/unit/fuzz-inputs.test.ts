/**
 * Property-based fuzzing of everything Vigil parses from outside: MQTT payloads (JSON and line
 * protocol), config files, C-MAPSS and CSV replay files. Random and mutated inputs must never throw
 * out of the parser; what comes out is either stored correctly or refused with a reason.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../../src/vigil-config.js';
import { VigilError } from '../../src/core/errors.js';
import { MessageDecoder, type DecoderOptions } from '../../src/ingest/decoder.js';
import { REJECT_REASONS } from '../../src/core/reasons.js';
import { ID_PATTERN } from '../../src/ingest/validate.js';
import { parseCmapss } from '../../simulators/replay/cmapss.js';
import { csvSource, parseTimestamp, splitCsvLine } from '../../simulators/replay/csv.js';
import { tempDir } from '../support/fixtures.js';
import { mutatedBytes } from '../support/mutate.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const options: DecoderOptions = {
  telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
  eventTopics: ['vigil/{site}/{line}/{machine}/events'],
  format: 'auto',
  maxPayloadBytes: 65_536,
  maxFutureSkewMs: 300_000,
  maxAgeMs: 30 * 86_400_000,
  allowMachines: [],
  lineProtocolPrecision: 'ms',
};
const decoder = new MessageDecoder(options);
const RUNS = 2000;

// Ids as ingest takes them (dots alone, `.` or `..`, read as paths and are refused).
const id = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/).filter((s) => !/^\.+$/.test(s));
const sensor = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
// -0 is sent as "0" by JSON and line protocol alike, so it cannot come back as -0.
const value = fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
const reading = fc.record({
  ts: fc.integer({ min: NOW - 86_400_000, max: NOW }),
  values: fc.dictionary(sensor, value, { minKeys: 1, maxKeys: 20 }),
});
const topic = fc.oneof(
  fc.tuple(id, id, id).map(([s, l, m]) => `vigil/${s}/${l}/${m}/telemetry`),
  fc.tuple(id, id, id).map(([s, l, m]) => `vigil/${s}/${l}/${m}/events`),
  fc.string({ maxLength: 80 }),
);

const mutated = (valid: fc.Arbitrary<string>) => mutatedBytes(valid);

const jsonPayload = fc.oneof(
  reading.map((r) => JSON.stringify(r)),
  fc.array(reading, { maxLength: 5 }).map((r) => JSON.stringify(r)),
);
const linePayload = reading.map((r) =>
  Object.entries(r.values)
    .map(([k, v]) => `telemetry ${k}=${v} ${r.ts}`)
    .join('\n'),
);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
  mutated(jsonPayload),
  mutated(linePayload),
);

/** Everything the decoder hands on must be storable: valid ids, finite values, a sane time. */
function assertStorable(out: ReturnType<MessageDecoder['decode']>): void {
  for (const s of out.batch.samples) {
    for (const part of [s.machine.site, s.machine.line, s.machine.machine]) expect(part).toMatch(ID_PATTERN);
    expect(Number.isFinite(s.ts)).toBe(true);
    expect(s.ts).toBeLessThanOrEqual(NOW + options.maxFutureSkewMs);
    expect(s.ts).toBeGreaterThanOrEqual(NOW - options.maxAgeMs);
    expect(Object.keys(s.values).length).toBeGreaterThan(0);
    for (const v of Object.values(s.values)) expect(Number.isFinite(v)).toBe(true);
  }
  for (const r of out.rejections) {
    expect(Object.keys(REJECT_REASONS)).toContain(r.reason);
    expect(r.detail.length).toBeGreaterThan(0);
  }
  // A message that yields nothing says why.
  if (out.batch.samples.length === 0 && out.batch.events.length === 0) expect(out.rejections.length).toBeGreaterThan(0);
}

describe('fuzzing the MQTT decoders', () => {
  it('random and mutated payloads on random topics never throw, and give storable data or reasons', () => {
    fc.assert(
      fc.property(topic, payload, (t, p) => {
        assertStorable(decoder.decode(t, p, NOW));
      }),
      { numRuns: RUNS },
    );
  });

  it('valid JSON readings are stored exactly as sent', () => {
    fc.assert(
      fc.property(id, fc.array(reading, { minLength: 1, maxLength: 5 }), (machine, readings) => {
        const out = decoder.decode(`vigil/s/l/${machine}/telemetry`, Buffer.from(JSON.stringify(readings)), NOW);
        expect(out.rejections).toEqual([]);
        expect(out.batch.samples.map((s) => ({ ts: s.ts, values: s.values }))).toEqual(readings);
      }),
      { numRuns: RUNS / 4 },
    );
  });

  it('valid line protocol is stored exactly as sent', () => {
    fc.assert(
      fc.property(id, reading, (machine, r) => {
        const text = Object.entries(r.values)
          .map(([k, v]) => `telemetry ${k}=${v} ${r.ts}`)
          .join('\n');
        const out = decoder.decode(`vigil/s/l/${machine}/telemetry`, Buffer.from(text), NOW);
        expect(out.rejections).toEqual([]);
        const stored: Record<string, number> = {};
        for (const s of out.batch.samples) {
          expect(s.ts).toBe(r.ts);
          Object.assign(stored, s.values);
        }
        expect(stored).toEqual(r.values);
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

describe('fuzzing the config loader', () => {
  const valid = {
    mqtt: { url: 'mqtt://127.0.0.1:1883' },
    http: { port: 8080 },
    store: { kind: 'sqlite' },
    learning: { window: 50, model: { units: [64, 32] } },
  };
  const keyPath = fc.array(
    fc.constantFrom(
      'mqtt',
      'url',
      'http',
      'port',
      'store',
      'kind',
      'learning',
      'window',
      'model',
      'units',
      'schedule',
      'cron',
      'alerts',
      'x',
    ),
    { minLength: 1, maxLength: 4 },
  );

  function check(raw: unknown): void {
    try {
      const cfg = validateConfig(raw, { cwd: '/tmp', origin: 'fuzz' });
      expect(typeof cfg.http.port).toBe('number');
    } catch (err) {
      // Only the loader's own error, listing each problem with its key.
      expect(err).toBeInstanceOf(VigilError);
      expect((err as VigilError).code).toBe('VGL_CONFIG_INVALID');
      expect(((err as VigilError).details as unknown[]).length).toBeGreaterThan(0);
    }
  }

  it('random documents and random edits of a valid one are accepted or refused with the keys named', () => {
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 500 });
    fc.assert(
      fc.property(keyPath, fc.jsonValue(), (keys, v) => {
        const doc = structuredClone(valid) as Record<string, unknown>;
        let node = doc;
        for (const k of keys.slice(0, -1)) {
          if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
          node = node[k] as Record<string, unknown>;
        }
        node[keys[keys.length - 1]!] = v;
        check(doc);
      }),
      { numRuns: 1000 },
    );
  });

  it('random YAML files are loaded or refused with a VigilError', () => {
    const dir = tempDir('vigil-fuzz-cfg-');
    const file = path.join(dir, 'vigil.yaml');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        ),
        (text) => {
          writeFileSync(file, text);
          try {
            loadConfig({ file, env: {} });
          } catch (err) {
            expect(err).toBeInstanceOf(VigilError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzzing the replay parsers', () => {
  const cmapssLine = fc
    .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 400 }), fc.array(value, { minLength: 24, maxLength: 24 }))
    .map(([u, c, v]) => [u, c, ...v].join(' '));

  it('C-MAPSS text: every line becomes a row or an error naming its line', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc.array(cmapssLine, { maxLength: 5 }).map((l) => l.join('\n')),
          mutated(fc.array(cmapssLine, { minLength: 1, maxLength: 3 }).map((l) => l.join('\n'))).map((b) =>
            Buffer.from(b).toString('latin1'),
          ),
        ),
        (text) => {
          const { rows, errors } = parseCmapss(text, 'f.txt');
          const lines = text.split('\n').filter((l) => l.trim() !== '').length;
          expect(rows.length + errors.length).toBe(lines);
          for (const r of rows) for (const v of Object.values(r.values)) expect(Number.isFinite(v)).toBe(true);
          for (const e of errors) expect(e.line).toBeGreaterThan(0);
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('CSV cells split or are refused as an unterminated quote; timestamps never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom(',', ';', '\t'), (line, delimiter) => {
        // Callers turn this refusal into a row error (or a header error naming the file).
        try {
          expect(Array.isArray(splitCsvLine(line, delimiter))).toBe(true);
        } catch (err) {
          expect((err as Error).message).toBe('unterminated quoted field');
        }
        const ts = parseTimestamp(line);
        expect(ts === null || Number.isFinite(ts)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('random CSV files give rows, row errors, or a clear refusal of the header', async () => {
    const dir = tempDir('vigil-fuzz-csv-');
    const header = 'timestamp,machine,temp,vib';
    const row = fc
      .tuple(fc.integer({ min: NOW - 86_400_000, max: NOW }), id, value, value)
      .map(([t, m, a, b]) => `${new Date(t).toISOString()},${m},${a},${b}`);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.array(row, { maxLength: 6 }).map((r) => [header, ...r].join('\n')),
          mutated(fc.array(row, { minLength: 1, maxLength: 4 }).map((r) => [header, ...r].join('\n'))).map((b) =>
            Buffer.from(b).toString('latin1'),
          ),
        ),
        async (text) => {
          const file = path.join(dir, 'data.csv');
          writeFileSync(file, text);
          let source;
          try {
            source = await csvSource({
              file,
              delimiter: ',',
              tsColumn: 'timestamp',
              machineColumn: 'machine',
              siteColumn: 'site',
              lineColumn: 'line',
              site: 's',
              line: 'l',
              strict: false,
            });
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
            expect((err as Error).message.length).toBeGreaterThan(0);
            return;
          }
          for await (const item of source.items(0)) {
            if (item.kind === 'reading') for (const v of Object.values(item.values)) expect(Number.isFinite(v)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
