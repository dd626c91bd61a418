/**
 * InfluxDB line protocol for Vigil's two measurements, written directly: the `influx` package's
 * writePoints coerces and escapes every field through a schema and costs more CPU than the rest of
 * the ingest path together. Machine ids and sensor names are already restricted to [A-Za-z0-9_.:-]
 * by validation; escaping is kept anyway for whatever else reaches a store.
 */
import type { IngestBatch, MachineRef } from '../core/types.js';

const NEEDS_ESCAPE = /[,= \\\n]/;

function escapeKey(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/([,= \\])/g, '\\$1').replace(/\n/g, '\\n') : s;
}

function escapeString(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1').replace(/\n/g, '\\n')}"`;
}

/** Float as line protocol writes it: no `i` suffix, so 3 is the float 3 and never an integer field. */
function float(v: number): string {
  return String(v);
}

export class LineProtocolWriter {
  private readonly tagCache = new Map<string, string>();

  constructor(
    private readonly telemetry: string,
    private readonly events: string,
  ) {}

  private tags(m: MachineRef): string {
    const key = `${m.site}\u0000${m.line}\u0000${m.machine}`;
    let t = this.tagCache.get(key);
    if (t === undefined) {
      t = `,line=${escapeKey(m.line)},machine=${escapeKey(m.machine)},site=${escapeKey(m.site)}`;
      if (this.tagCache.size > 100_000) this.tagCache.clear();
      this.tagCache.set(key, t);
    }
    return t;
  }

  /** One line per sample and event, each ending in a newline; timestamps in milliseconds. */
  lines(batch: IngestBatch): string {
    let out = '';
    for (const s of batch.samples) {
      let fields = '';
      for (const name in s.values) fields += `${fields ? ',' : ''}${escapeKey(name)}=${float(s.values[name]!)}`;
      if (fields) out += `${this.telemetry}${this.tags(s.machine)} ${fields} ${s.ts}\n`;
    }
    for (const e of batch.events) {
      out += `${this.events}${this.tags(e.machine)},type=${escapeKey(e.type)} component=${escapeString(e.component ?? '')},note=${escapeString(e.note ?? '')} ${e.ts}\n`;
    }
    return out;
  }

  /** The same lines as UTF-8 bytes. */
  encode(batch: IngestBatch): Buffer {
    return Buffer.from(this.lines(batch), 'utf8');
  }
}
