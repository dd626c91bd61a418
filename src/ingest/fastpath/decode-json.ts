/**
 * The telemetry message almost every sensor gateway sends — one object `{"ts": <epoch ms>, "values":
 * {"<name>": <decimal>, …}}` — read straight from the payload bytes: no UTF-8 decoding of the whole
 * payload, no generic JSON tree, no re-formatting of the numbers for InfluxDB (their text is kept).
 * It takes only what it can read exactly: known-good sensor names, decimals of at most 15 digits
 * without exponent (exactly the double JSON.parse gives), an integer ts in the accepted window.
 * Anything else — arrays, escapes, exponents, unknown or duplicate names, a ts to refuse — returns
 * null and goes the general way (JSON.parse and validation), so what is accepted or refused, and
 * why, never depends on which path read it (property-tested against the general decoder).
 */
import type { MachineRef, Sample, ValueText } from '../../core/types.js';
import { MAX_SENSORS_PER_READING, checkTimeWindow, goodNames, type ValidationContext } from '../validate.js';

const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const OPEN = 123;
const CLOSE = 125;
const BACKSLASH = 92;
const MAX_DIGITS = 15;
const POW10 = Array.from({ length: MAX_DIGITS + 1 }, (_, i) => 10 ** i);
const TS = Buffer.from('ts');
const VALUES = Buffer.from('values');

/** Sensor names as strings without decoding each time: the same few hundred names arrive over and over. */
class NameTable {
  private readonly byHash = new Map<number, { bytes: Uint8Array; name: string }>();

  name(b: Uint8Array, start: number, end: number): string {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    const known = this.byHash.get(h);
    if (known !== undefined && known.bytes.length === end - start) {
      let same = true;
      for (let i = 0; i < known.bytes.length; i++) {
        if (known.bytes[i] !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return known.name;
    }
    const name = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
    if (this.byHash.size >= 10_000) this.byHash.clear();
    // A copy: Buffer#slice is a view, and the payload's memory may be a reused read window.
    this.byHash.set(h, { bytes: Uint8Array.prototype.slice.call(b, start, end), name });
    return name;
  }
}

const names = new NameTable();

/** Reads `bytes` as one telemetry object, or returns null to leave it to the general decoder. */
export function decodeTelemetryFast(bytes: Uint8Array, machine: MachineRef, ctx: ValidationContext, keepText: boolean): Sample | null {
  const r = new Reader(bytes);
  if (r.skipSpace() !== OPEN) return null;
  r.at++;
  let ts = -1;
  let values: Record<string, number> | null = null;
  let text: ValueText | undefined;
  for (let member = 0; member < 2; member++) {
    if (member > 0 && !r.expect(COMMA)) return null;
    const key = r.key();
    if (key === TS && ts < 0) {
      ts = r.integer();
      if (ts < 0) return null;
    } else if (key === VALUES && values === null) {
      if (keepText) text = { bytes, names: [], spans: [] };
      values = r.values(text);
      if (values === null) return null;
    } else {
      return null;
    }
  }
  if (!r.expect(CLOSE) || r.skipSpace() !== -1) return null;
  const window = checkTimeWindow(ts, ctx, 'reading');
  if (!window.ok) return null;
  return text ? { machine, ts, values: values!, valueText: text } : { machine, ts, values: values! };
}

class Reader {
  at = 0;
  constructor(private readonly b: Uint8Array) {}

  /** The next byte that is not JSON whitespace (-1 at the end); `at` points at it. */
  skipSpace(): number {
    const b = this.b;
    while (this.at < b.length) {
      const c = b[this.at]!;
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return c;
      this.at++;
    }
    return -1;
  }

  expect(c: number): boolean {
    if (this.skipSpace() !== c) return false;
    this.at++;
    return true;
  }

  /** `"ts":` or `"values":` as the constants above; anything else null. */
  key(): Buffer | null {
    if (!this.expect(QUOTE)) return null;
    const b = this.b;
    const start = this.at;
    for (const k of [TS, VALUES]) {
      if (start + k.length < b.length && b[start + k.length] === QUOTE) {
        let same = true;
        for (let i = 0; i < k.length; i++) {
          if (b[start + i] !== k[i]) {
            same = false;
            break;
          }
        }
        if (same) {
          this.at = start + k.length + 1;
          return this.expect(COLON) ? k : null;
        }
      }
    }
    return null;
  }

  /** A non-negative JSON integer of at most 15 digits; -1 for anything else. */
  integer(): number {
    const b = this.b;
    this.skipSpace();
    const start = this.at;
    let n = 0;
    while (this.at < b.length && b[this.at]! >= ZERO && b[this.at]! <= NINE) n = n * 10 + (b[this.at++]! - ZERO);
    const digits = this.at - start;
    if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && b[start] === ZERO)) return -1;
    const next = this.at < b.length ? b[this.at]! : -1;
    if (next === DOT || next === 101 || next === 69) return -1;
    return n;
  }

  /** `{"name": decimal, …}` with known-good, distinct names; null for anything else (an empty object too). */
  values(text: ValueText | undefined): Record<string, number> | null {
    if (!this.expect(OPEN)) return null;
    const b = this.b;
    const values: Record<string, number> = {};
    for (let count = 1; ; count++) {
      if (count > MAX_SENSORS_PER_READING || !this.expect(QUOTE)) return null;
      const nameStart = this.at;
      while (this.at < b.length && b[this.at] !== QUOTE) {
        const c = b[this.at]!;
        if (c === BACKSLASH || c < 32 || c >= 128) return null;
        this.at++;
      }
      if (this.at >= b.length) return null;
      const name = names.name(b, nameStart, this.at);
      this.at++;
      if (!goodNames.has(name) || name === '__proto__' || values[name] !== undefined || !this.expect(COLON)) return null;
      this.skipSpace();
      const valueStart = this.at;
      const value = this.decimal();
      if (Number.isNaN(value)) return null;
      values[name] = value;
      if (text) {
        text.names.push(name);
        text.spans.push(valueStart, this.at);
      }
      const next = this.skipSpace();
      this.at++;
      if (next === CLOSE) return values;
      if (next !== COMMA) return null;
    }
  }

  /** -?(0|[1-9][0-9]*)(.[0-9]+)? of at most 15 digits, as the double JSON.parse gives; NaN otherwise. */
  decimal(): number {
    const b = this.b;
    let at = this.at;
    const negative = b[at] === MINUS;
    if (negative) at++;
    const intStart = at;
    let m = 0;
    while (at < b.length && b[at]! >= ZERO && b[at]! <= NINE) m = m * 10 + (b[at++]! - ZERO);
    const intDigits = at - intStart;
    if (intDigits === 0 || (intDigits > 1 && b[intStart] === ZERO)) return NaN;
    let scale = 0;
    if (at < b.length && b[at] === DOT) {
      at++;
      const fracStart = at;
      while (at < b.length && b[at]! >= ZERO && b[at]! <= NINE) m = m * 10 + (b[at++]! - ZERO);
      scale = at - fracStart;
      if (scale === 0) return NaN;
    }
    if (intDigits + scale > MAX_DIGITS) return NaN;
    if (at < b.length && (b[at] === 101 || b[at] === 69)) return NaN;
    this.at = at;
    // m < 10^15 < 2^53 and 10^scale are exact doubles: one division, correctly rounded (Clinger).
    const v = scale === 0 ? m : m / POW10[scale]!;
    return negative ? -v : v;
  }
}
