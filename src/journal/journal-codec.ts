import type { IngestBatch, MachineEvent, MachineEventType, RawMessage } from '../core/types.js';

/**
 * Journal record bodies, two kinds told apart by their first byte:
 * - a message as it arrived (MQTT): 0x01, f64 receivedAt, u32 items accepted, u16 topic length,
 *   topic, payload. Nothing is re-encoded on the hot path; reading it back decodes the payload again,
 *   with the time it was received, so validation gives what it gave then.
 * - a decoded batch (events from the HTTP API, and records of older versions): compact JSON,
 *   positional arrays instead of keyed objects; it starts with `{`.
 */
type EncodedSample = [site: string, line: string, machine: string, ts: number, values: Record<string, number>];
type EncodedEvent = [
  site: string,
  line: string,
  machine: string,
  ts: number,
  type: MachineEventType,
  component: string | null,
  note: string | null,
];
interface EncodedBatch {
  s?: EncodedSample[];
  e?: EncodedEvent[];
}

/** A message as it arrived, journalled instead of its decoded batch. */
export type JournalSource = RawMessage;

/** Turns a journalled message back into its batch: the same decoder as at arrival. It must not keep `payload` (the journal reuses it). */
export type MessageDecode = (topic: string, payload: Uint8Array, receivedAt: number) => IngestBatch;

export const RAW_MESSAGE = 0x01;
const RAW_HEAD = 1 + 8 + 4 + 2;

/** The head of a raw-message record (kind, time, count, topic); the payload follows it unchanged. */
export function encodeMessageHead(source: JournalSource, accepted: number, into: Buffer, at: number): number {
  into[at] = RAW_MESSAGE;
  into.writeDoubleLE(source.receivedAt, at + 1);
  into.writeUInt32LE(accepted, at + 9);
  const topicBytes = into.write(source.topic, at + RAW_HEAD, 'utf8');
  into.writeUInt16LE(topicBytes, at + 13);
  return RAW_HEAD + topicBytes;
}

export function messageHeadBytes(source: JournalSource): number {
  return RAW_HEAD + Buffer.byteLength(source.topic, 'utf8');
}

export function decodeMessage(body: Buffer): { topic: string; payload: Buffer; receivedAt: number; accepted: number } {
  if (body.length < RAW_HEAD) throw new Error(`message record of ${body.length} bytes is shorter than its head`);
  const topicBytes = body.readUInt16LE(13);
  if (RAW_HEAD + topicBytes > body.length) throw new Error('message record topic runs past its end');
  return {
    receivedAt: body.readDoubleLE(1),
    accepted: body.readUInt32LE(9),
    topic: body.toString('utf8', RAW_HEAD, RAW_HEAD + topicBytes),
    payload: body.subarray(RAW_HEAD + topicBytes),
  };
}

export function encodeBatch(batch: IngestBatch): Buffer {
  const out: EncodedBatch = {};
  if (batch.samples.length > 0) out.s = batch.samples.map((s) => [s.machine.site, s.machine.line, s.machine.machine, s.ts, s.values]);
  if (batch.events.length > 0) {
    out.e = batch.events.map((e) => [e.machine.site, e.machine.line, e.machine.machine, e.ts, e.type, e.component ?? null, e.note ?? null]);
  }
  return Buffer.from(JSON.stringify(out), 'utf8');
}

export function decodeBatch(buf: Buffer): IngestBatch {
  const raw = JSON.parse(buf.toString('utf8')) as EncodedBatch;
  return {
    samples: (raw.s ?? []).map(([site, line, machine, ts, values]) => ({ machine: { site, line, machine }, ts, values })),
    events: (raw.e ?? []).map(([site, line, machine, ts, type, component, note]) => {
      const e: MachineEvent = { machine: { site, line, machine }, ts, type };
      if (component !== null) e.component = component;
      if (note !== null) e.note = note;
      return e;
    }),
  };
}
