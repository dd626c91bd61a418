import { MACHINE_EVENT_TYPES, type IngestBatch, type MachineEvent, type MachineRef, type Sample } from '../core/types.js';
import type { ByteSink } from '../core/sensor-store.js';

/**
 * A compact binary form of batches, for handing them to a store in another thread: the writer's
 * queue holds these bytes instead of sample objects (see pending-queue.ts), and a commit moves one
 * buffer to the store's thread instead of structured-cloning thousands of objects there.
 *
 * Little-endian records, one per sample or event, back to back:
 *   sample: u8 1, ref, f64 ts, u16 n, n × (u8 name length, name, f64 value)
 *   event:  u8 2, ref, f64 ts, u8 type, text component, text note
 *   ref: three texts (site, line, machine); text: u16 byte length (0xffff: absent), UTF-8.
 */
const SAMPLE = 1;
const EVENT = 2;
const ABSENT = 0xffff;

const textBytes = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));

function sampleBytes(s: Sample): number {
  let n = 1 + 6 + textBytes(s.machine.site) + textBytes(s.machine.line) + textBytes(s.machine.machine) + 8 + 2;
  for (const name in s.values) n += 1 + Buffer.byteLength(name, 'utf8') + 8;
  return n;
}

function eventBytes(e: MachineEvent): number {
  return (
    1 +
    6 +
    textBytes(e.machine.site) +
    textBytes(e.machine.line) +
    textBytes(e.machine.machine) +
    8 +
    1 +
    4 +
    textBytes(e.component) +
    textBytes(e.note)
  );
}

/** Writes the batch at `out.pos` (reserving its size first, so it lies in one buffer) and returns the bytes written. */
export function encodeBatchInto(batch: IngestBatch, out: ByteSink): number {
  let size = 0;
  for (const s of batch.samples) size += sampleBytes(s);
  for (const e of batch.events) size += eventBytes(e);
  out.reserve(size);
  const buf = out.buf;
  let p = out.pos;
  const text = (s: string | undefined) => {
    if (s === undefined) {
      buf.writeUInt16LE(ABSENT, p);
      p += 2;
      return;
    }
    const n = buf.write(s, p + 2, 'utf8');
    if (n >= ABSENT) throw new RangeError(`text of ${n} bytes is too long to encode`);
    buf.writeUInt16LE(n, p);
    p += 2 + n;
  };
  const ref = (r: MachineRef) => {
    text(r.site);
    text(r.line);
    text(r.machine);
  };
  for (const s of batch.samples) {
    buf[p++] = SAMPLE;
    ref(s.machine);
    buf.writeDoubleLE(s.ts, p);
    p += 8;
    const countAt = p;
    p += 2;
    let count = 0;
    for (const name in s.values) {
      const n = buf.write(name, p + 1, 'utf8');
      if (n > 255) throw new RangeError(`sensor name of ${n} bytes is too long to encode`);
      buf[p] = n;
      p += 1 + n;
      buf.writeDoubleLE(s.values[name]!, p);
      p += 8;
      count++;
    }
    if (count > 0xffff) throw new RangeError(`${count} values in one sample is too many to encode`);
    buf.writeUInt16LE(count, countAt);
  }
  for (const e of batch.events) {
    buf[p++] = EVENT;
    ref(e.machine);
    buf.writeDoubleLE(e.ts, p);
    p += 8;
    buf[p++] = MACHINE_EVENT_TYPES.indexOf(e.type);
    text(e.component);
    text(e.note);
  }
  const written = p - out.pos;
  out.pos = p;
  return written;
}

/** What reading encoded batches hands out, record by record, without building sample objects. */
export interface BatchVisitor {
  /** A sample of `count` values; its values follow, one `value` call each. */
  sample(machine: MachineRef, ts: number, count: number): void;
  value(name: string, value: number): void;
  event(e: MachineEvent): void;
}

/** Walks what `encodeBatchInto` wrote (any number of batches, concatenated). Throws on malformed bytes. */
export function readBatches(bytes: Uint8Array, visit: BatchVisitor): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > buf.length) throw new RangeError(`encoded batch ends inside a record at byte ${p}`);
  };
  const text = (): string | undefined => {
    need(2);
    const n = buf.readUInt16LE(p);
    p += 2;
    if (n === ABSENT) return undefined;
    need(n);
    const s = buf.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  // Consecutive records of one machine share one ref object, as they did when decoded from MQTT.
  let last: MachineRef | null = null;
  const ref = (): MachineRef => {
    const site = text() ?? '';
    const line = text() ?? '';
    const machine = text() ?? '';
    if (last && last.machine === machine && last.site === site && last.line === line) return last;
    return (last = { site, line, machine });
  };
  while (p < buf.length) {
    const kind = buf[p++];
    const machine = ref();
    need(8);
    const ts = buf.readDoubleLE(p);
    p += 8;
    if (kind === SAMPLE) {
      need(2);
      const count = buf.readUInt16LE(p);
      p += 2;
      visit.sample(machine, ts, count);
      for (let i = 0; i < count; i++) {
        need(1);
        const n = buf[p++]!;
        need(n + 8);
        const name = buf.toString('utf8', p, p + n);
        p += n;
        visit.value(name, buf.readDoubleLE(p));
        p += 8;
      }
    } else if (kind === EVENT) {
      need(1);
      const type = MACHINE_EVENT_TYPES[buf[p++]!];
      if (!type) throw new RangeError(`unknown event type ${buf[p - 1]} at byte ${p - 1}`);
      const e: MachineEvent = { machine, ts, type };
      const component = text();
      const note = text();
      if (component !== undefined) e.component = component;
      if (note !== undefined) e.note = note;
      visit.event(e);
    } else {
      throw new RangeError(`unknown record kind ${kind} at byte ${p - 1}`);
    }
  }
}

/** Reads back what `encodeBatchInto` wrote, as a batch. Throws on malformed bytes. */
export function decodeBatches(bytes: Uint8Array): IngestBatch {
  const samples: Sample[] = [];
  const events: MachineEvent[] = [];
  let values: Record<string, number> = {};
  readBatches(bytes, {
    sample(machine, ts) {
      values = {};
      samples.push({ machine, ts, values });
    },
    value(name, value) {
      values[name] = value;
    },
    event(e) {
      events.push(e);
    },
  });
  return { samples, events };
}
