/**
 * InfluxDB line protocol for Vigil's two measurements, written directly as bytes: the `influx`
 * package's writePoints coerces and escapes every field through a schema, and even building the
 * lines as strings leaves several strings of garbage per reading. Machine ids and sensor names are
 * already restricted to [A-Za-z0-9_.:-] by validation; escaping is kept anyway for whatever else
 * reaches a store.
 */
import type { IngestBatch, MachineRef } from '../core/types.js';
import { ByteSlabs } from '../core/byte-slabs.js';
import type { ByteSink } from '../core/sensor-store.js';

const NEEDS_ESCAPE = /[,= \\\n]/;

function escapeKey(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/([,= \\])/g, '\\$1').replace(/\n/g, '\\n') : s;
}

function escapeString(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1').replace(/\n/g, '\\n')}"`;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
const COMMA = 44;
const SPACE = 32;
const NEWLINE = 10;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;

/** Writes a non-negative integer below 2^53 in decimal; returns the end. */
function writeInteger(b: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  let x = n;
  for (let i = at + digits - 1; i >= at; i--) {
    const q = Math.floor(x / 10);
    b[i] = ZERO + (x - q * 10);
    x = q;
  }
  return at + digits;
}

/**
 * A float field as InfluxDB parses it back to the same double: no `i` suffix, so 3 is the float 3.
 * Sensor values mostly have a few decimals; for those the digits are written straight from the
 * scaled integer (n / 10^k is the double nearest to the decimal n·10^-k, so when it equals v, that
 * decimal reads back as v). Anything else goes through JavaScript's own shortest form.
 */
function writeFloat(b: Buffer, at: number, value: number): number {
  let v = value;
  if (v < 0) {
    b[at++] = MINUS;
    v = -v;
  }
  if (Number.isInteger(v) && v < 1e15) return writeInteger(b, at, v);
  if (v >= 1e-3 && v < 1e9) {
    for (let k = 1; k <= 6; k++) {
      const p = POW10[k]!;
      const n = Math.round(v * p);
      if (n / p !== v) continue;
      const whole = Math.floor(n / p);
      at = writeInteger(b, at, whole);
      b[at++] = DOT;
      let fraction = n - whole * p;
      for (let d = k - 1; d >= 0; d--) {
        const q = Math.floor(fraction / POW10[d]!);
        b[at++] = ZERO + q;
        fraction -= q * POW10[d]!;
      }
      return at;
    }
  }
  return at + b.write(String(v), at, 'latin1');
}

/** Buffer#copy costs more in argument checks than a loop over a few dozen bytes. */
function copyShort(from: Buffer, to: Buffer, at: number): number {
  const n = from.length;
  if (n > 64) return at + from.copy(to, at);
  for (let i = 0; i < n; i++) to[at + i] = from[i]!;
  return at + n;
}

export class LineProtocolWriter {
  /** Per machine id, its site, line and series prefix: a machine keeps its place, so the check is two string compares. */
  private readonly prefixCache = new Map<string, { site: string; line: string; bytes: Buffer }>();
  private readonly fieldCache = new Map<string, Buffer>();
  /** Slabs for `encode`; queued batches go to the writer's own (encodeInto). */
  private readonly own = new ByteSlabs();

  constructor(
    private readonly telemetry: string,
    private readonly events: string,
  ) {}

  private tags(m: MachineRef): string {
    return `,line=${escapeKey(m.line)},machine=${escapeKey(m.machine)},site=${escapeKey(m.site)}`;
  }

  /** `telemetry,line=…,machine=…,site=… ` as bytes, per machine. */
  private prefix(m: MachineRef): Buffer {
    const known = this.prefixCache.get(m.machine);
    if (known !== undefined && known.site === m.site && known.line === m.line) return known.bytes;
    const bytes = Buffer.from(`${this.telemetry}${this.tags(m)} `, 'utf8');
    // Bounded against floods of machine ids, above a large gateway's fleet.
    if (this.prefixCache.size > 250_000) this.prefixCache.clear();
    this.prefixCache.set(m.machine, { site: m.site, line: m.line, bytes });
    return bytes;
  }

  /** `name=` as bytes, per sensor. */
  private field(name: string): Buffer {
    let f = this.fieldCache.get(name);
    if (f === undefined) {
      f = Buffer.from(`${escapeKey(name)}=`, 'utf8');
      if (this.fieldCache.size > 100_000) this.fieldCache.clear();
      this.fieldCache.set(name, f);
    }
    return f;
  }

  /** One line per sample and event, each ending in a newline; timestamps in milliseconds. */
  encode(batch: IngestBatch): Buffer {
    const written = this.encodeInto(batch, this.own);
    return this.own.buf.subarray(this.own.pos - written, this.own.pos);
  }

  /** The same lines written into `out`, in one piece (room is reserved first); returns their length. */
  encodeInto(batch: IngestBatch, out: ByteSink): number {
    // An upper bound first, so that the batch is written without checks per field.
    let bound = 0;
    for (const s of batch.samples) {
      bound += this.prefix(s.machine).length + 20;
      // Per field: comma, the name escaped in UTF-8 (at most 3 bytes per UTF-16 unit), `=`, and at most 24 characters of float.
      for (const name in s.values) bound += 3 * name.length + 28;
    }
    const eventLines = batch.events.map(
      (e) =>
        `${this.events}${this.tags(e.machine)},type=${escapeKey(e.type)} component=${escapeString(e.component ?? '')},note=${escapeString(e.note ?? '')} ${e.ts}\n`,
    );
    for (const line of eventLines) bound += Buffer.byteLength(line, 'utf8');
    out.reserve(bound);
    const b = out.buf;
    const start = out.pos;
    let at = start;
    for (const s of batch.samples) {
      const lineStart = at;
      at = copyShort(this.prefix(s.machine), b, at);
      let fields = 0;
      const text = s.valueText;
      if (text !== undefined) {
        // The decimals as received: they read back as the same doubles, and copying beats formatting.
        const { bytes, names, spans } = text;
        for (let i = 0; i < names.length; i++) {
          if (fields++ > 0) b[at++] = COMMA;
          at = copyShort(this.field(names[i]!), b, at);
          for (let j = spans[2 * i]!, end = spans[2 * i + 1]!; j < end; j++) b[at++] = bytes[j]!;
        }
      } else {
        for (const name in s.values) {
          if (fields++ > 0) b[at++] = COMMA;
          at = copyShort(this.field(name), b, at);
          at = writeFloat(b, at, s.values[name]!);
        }
      }
      if (fields === 0) {
        at = lineStart;
        continue;
      }
      b[at++] = SPACE;
      if (s.ts < 0) b[at++] = MINUS;
      at = writeInteger(b, at, Math.abs(s.ts));
      b[at++] = NEWLINE;
    }
    for (const line of eventLines) at += b.write(line, at, 'utf8');
    out.pos = at;
    return at - start;
  }

  /** The same lines as a string. */
  lines(batch: IngestBatch): string {
    return this.encode(batch).toString('utf8');
  }
}
