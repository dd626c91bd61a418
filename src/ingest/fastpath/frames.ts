/**
 * MQTT 3.1.1 framing for the ingest fast path: whole packets out of a byte stream that arrives in
 * arbitrary pieces, the fields of a PUBLISH, and PUBACKs. Only what the fast path needs; every other
 * packet is handed on as bytes to mqtt.js, which parses it as before.
 */

const PUBLISH = 3;
const EMPTY = Buffer.alloc(0);

/** A remaining length takes at most four bytes (MQTT 3.1.1 §2.2.3). */
const MAX_LENGTH_BYTES = 4;

export interface Frame {
  /** The whole packet (fixed header included), a view of the bytes read. */
  bytes: Buffer;
  /** Packet type, the high nibble of the first byte (3 = PUBLISH). */
  type: number;
  /** The low nibble: for PUBLISH dup, QoS and retain. */
  flags: number;
  /** Where the variable header starts within `bytes`. */
  bodyAt: number;
}

/**
 * Cuts packets out of the stream. A complete packet is a view of the piece it came in, so nothing is
 * copied in the common case of many small packets per read. The pieces of a packet that spans reads
 * are collected and joined once it is complete (a large message costs one copy, not one per read).
 */
export class FrameReader {
  private buf: Buffer = EMPTY;
  private at = 0;
  /** Pieces of a packet longer than what has arrived, and how many bytes it needs in all. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private need = 0;
  /** Set when the stream is not MQTT framing any more; the rest is then handed on unparsed. */
  malformed = false;

  push(chunk: Buffer): void {
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < this.need) return;
      this.buf = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
    } else if (this.at >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.at), chunk]);
    }
    this.at = 0;
  }

  /** The next whole packet, or null until more bytes arrive (or once the stream is malformed). */
  next(): Frame | null {
    if (this.malformed) return null;
    const buf = this.buf;
    const start = this.at;
    let i = start + 1;
    let length = 0;
    let multiplier = 1;
    for (let n = 0; ; n++) {
      if (n === MAX_LENGTH_BYTES) {
        this.malformed = true;
        return null;
      }
      if (i >= buf.length) return null;
      const byte = buf[i++]!;
      length += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) break;
      multiplier *= 128;
    }
    const end = i + length;
    if (end > buf.length) {
      // Wait for the rest without joining at every read.
      this.parts = [buf.subarray(start)];
      this.partsLength = buf.length - start;
      this.need = end - start;
      this.buf = EMPTY;
      this.at = 0;
      return null;
    }
    this.at = end;
    const head = buf[start]!;
    return { bytes: buf.subarray(start, end), type: head >> 4, flags: head & 0x0f, bodyAt: i - start };
  }

  /** Bytes not yet part of a returned packet (handed on unparsed once the stream is malformed). */
  rest(): Buffer {
    const rest = this.parts.length > 0 ? Buffer.concat(this.parts) : this.buf.subarray(this.at);
    this.buf = EMPTY;
    this.at = 0;
    this.parts = [];
    this.partsLength = 0;
    return rest;
  }
}

export interface Publish {
  topic: string;
  qos: 0 | 1 | 2;
  messageId: number;
  payload: Buffer;
}

/** The fields of a PUBLISH packet, or null when it is not one or is malformed (then mqtt.js sees it). */
export function readPublish(frame: Frame): Publish | null {
  if (frame.type !== PUBLISH) return null;
  const qos = (frame.flags >> 1) & 0x03;
  if (qos === 3) return null;
  const b = frame.bytes;
  let at = frame.bodyAt;
  if (at + 2 > b.length) return null;
  const topicLength = b.readUInt16BE(at);
  at += 2;
  if (at + topicLength > b.length) return null;
  const topic = b.toString('utf8', at, at + topicLength);
  at += topicLength;
  let messageId = 0;
  if (qos > 0) {
    if (at + 2 > b.length) return null;
    messageId = b.readUInt16BE(at);
    at += 2;
  }
  return { topic, qos: qos as 0 | 1 | 2, messageId, payload: b.subarray(at) };
}

/** PUBACKs appended to one buffer, sent with one write. */
export class PubackBuffer {
  private buf = Buffer.allocUnsafe(4 * 256);
  private length = 0;

  add(messageId: number): void {
    if (this.length + 4 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const b = this.buf;
    b[this.length] = 0x40;
    b[this.length + 1] = 0x02;
    b[this.length + 2] = messageId >> 8;
    b[this.length + 3] = messageId & 0xff;
    this.length += 4;
  }

  get count(): number {
    return this.length / 4;
  }

  /** The PUBACKs added since the last take, as a buffer of their own (the socket may hold it a while). */
  take(): Buffer | null {
    if (this.length === 0) return null;
    const out = Buffer.from(this.buf.subarray(0, this.length));
    this.length = 0;
    return out;
  }

  clear(): void {
    this.length = 0;
  }
}
