import { readFileSync } from 'node:fs';
import path from 'node:path';
import { StrictModeError, type ReplayItem, type ReplaySource, type RowError } from './source.js';

/** NASA C-MAPSS: unit, cycle, 3 operational settings, 21 sensors; space-separated, no header. */
export const CMAPSS_COLUMNS = ['op1', 'op2', 'op3', ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`)];
/**
 * The cycle column is also published as a reading: an engine's cycle count is tracked like any
 * hour meter or stroke counter, and how long a unit has run says something about its failure risk.
 */
export const CMAPSS_CYCLE = 'cycle';
/** Every value of a row, as published. */
export const CMAPSS_VALUES = [CMAPSS_CYCLE, ...CMAPSS_COLUMNS];

export interface CmapssRow {
  unit: number;
  cycle: number;
  values: Record<string, number>;
  line: number;
}

export function parseCmapss(text: string, file: string, strict = false): { rows: CmapssRow[]; errors: RowError[] } {
  const rows: CmapssRow[] = [];
  const errors: RowError[] = [];
  const lastCycle = new Map<number, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const fail = (reason: string) => {
      const e = { file, line: i + 1, reason };
      if (strict) throw new StrictModeError(e);
      errors.push(e);
    };
    const cols = raw.split(/\s+/);
    if (cols.length !== 26) {
      fail(`expected 26 columns (unit, cycle, 3 settings, 21 sensors), found ${cols.length}`);
      continue;
    }
    const nums = cols.map(Number);
    const bad = nums.findIndex((n) => !Number.isFinite(n));
    if (bad >= 0) {
      fail(
        `column ${bad + 1} (${bad < 2 ? ['unit', 'cycle'][bad] : CMAPSS_COLUMNS[bad - 2]}) is not a number: ${JSON.stringify(cols[bad])}`,
      );
      continue;
    }
    const [unit, cycle] = nums as [number, number];
    if (!Number.isInteger(unit) || unit < 1 || !Number.isInteger(cycle) || cycle < 1) {
      fail(`unit and cycle must be positive integers, got ${cols[0]} and ${cols[1]}`);
      continue;
    }
    const prev = lastCycle.get(unit);
    if (prev !== undefined && cycle <= prev) {
      fail(`cycle ${cycle} of unit ${unit} does not follow cycle ${prev}`);
      continue;
    }
    lastCycle.set(unit, cycle);
    const values: Record<string, number> = { [CMAPSS_CYCLE]: cycle };
    CMAPSS_COLUMNS.forEach((name, k) => (values[name] = nums[k + 2]!));
    rows.push({ unit, cycle, values, line: i + 1 });
  }
  return { rows, errors };
}

export interface CmapssOptions {
  file: string;
  /** Simulated time of cycle 1; default: so that the last cycle lands about `now`. */
  startMs?: number;
  now: number;
  /** Simulated time between cycles. */
  stepMs: number;
  site: string;
  line: string;
  /** Machine names are `${prefix}${unit, 3 digits}`. */
  machinePrefix: string;
  /** Publish a failure event one step after each unit's last cycle (run-to-failure training files). */
  failures: boolean;
  strict: boolean;
}

export function cmapssDefaults(file: string): { line: string; machinePrefix: string; failures: boolean } {
  const base = path
    .basename(file)
    .replace(/\.[^.]+$/, '')
    .toLowerCase();
  const dataset = /fd\d{3}/.exec(base)?.[0] ?? 'cmapss';
  return { line: dataset, machinePrefix: `${base.replace(/[^a-z0-9]+/g, '-')}-`, failures: !base.startsWith('test') };
}

/** Every unit starts at cycle 1 together, one message per unit and cycle, in cycle order. */
export function cmapssSource(o: CmapssOptions): ReplaySource {
  const { rows, errors } = parseCmapss(readFileSync(o.file, 'utf8'), o.file, o.strict);
  const maxCycle = rows.reduce((m, r) => Math.max(m, r.cycle), 0);
  const start = o.startMs ?? o.now - maxCycle * o.stepMs;
  const ordered = [...rows].sort((a, b) => a.cycle - b.cycle || a.unit - b.unit);
  const lastOfUnit = new Map<number, number>();
  for (const r of rows) lastOfUnit.set(r.unit, Math.max(lastOfUnit.get(r.unit) ?? 0, r.cycle));
  const machine = (unit: number) => ({ site: o.site, line: o.line, machine: `${o.machinePrefix}${String(unit).padStart(3, '0')}` });
  const failureCount = o.failures ? lastOfUnit.size : 0;
  return {
    description: `${o.file} (${lastOfUnit.size} units, ${rows.length} cycles${o.failures ? ', run to failure' : ''})`,
    total: rows.length + failureCount,
    spanMs: (maxCycle + 1) * o.stepMs,
    errors,
    async *items(shift: number): AsyncIterable<ReplayItem> {
      let i = 0;
      for (let cycle = 1; cycle <= maxCycle + 1; cycle++) {
        const ts = start + shift + (cycle - 1) * o.stepMs;
        for (; i < ordered.length && ordered[i]!.cycle === cycle; i++) {
          const r = ordered[i]!;
          yield { kind: 'reading', machine: machine(r.unit), ts, values: r.values };
        }
        if (!o.failures) continue;
        // The failure follows the unit's last recorded cycle by one step.
        for (const [unit, last] of lastOfUnit) {
          if (last === cycle - 1)
            yield { kind: 'event', machine: machine(unit), ts, type: 'failure', note: `C-MAPSS unit ${unit} failed after cycle ${last}` };
        }
      }
    },
  };
}
