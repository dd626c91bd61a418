/**
 * The federation's messages on the broker: a small versioned binary frame, so weights travel as
 * float32 (a 30 k-parameter LSTM is 120 kB, not the ~600 kB of a JSON array), with a checksum that
 * tells a damaged message from a forged one, and an HMAC-SHA256 signature with the federation's key.
 *
 *   magic "VGFL" | version u8 | type u8 | 0 u16 | header length u32 | body length u32
 *   | header (UTF-8 JSON) | body (float32, little-endian) | SHA-256 of all before | HMAC of all before
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HEADER_SCHEMAS, type FederationHeader, type MessageType } from './messages.js';

export const WIRE_VERSION = 1;
const MAGIC = 0x4c464756; // "VGFL" read as little-endian u32
const PREFIX = 16;
const DIGEST = 32;
const TYPES: readonly MessageType[] = ['plan', 'stats', 'update'];
const checks = {
  plan: TypeCompiler.Compile(HEADER_SCHEMAS.plan),
  stats: TypeCompiler.Compile(HEADER_SCHEMAS.stats),
  update: TypeCompiler.Compile(HEADER_SCHEMAS.update),
};

/** Why a frame was refused; each reason has its own counter. */
export type RefusalReason =
  | 'too-large'
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'unknown-type'
  | 'corrupt'
  | 'bad-signature'
  | 'bad-header'
  | 'non-finite'
  | 'wrong-shape'
  | 'norm-outlier'
  | 'stale-round'
  | 'wrong-client'
  | 'duplicate'
  | 'unknown-session';

export class FrameError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface Frame<H extends FederationHeader = FederationHeader> {
  header: H;
  body: Float32Array;
}

/** Encodes and signs one message. */
export function encodeFrame(header: FederationHeader, body: Float32Array | null, key: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // The body starts on a 4-byte boundary so a reader can view it without copying.
  const pad = (4 - ((PREFIX + json.length) % 4)) % 4;
  const headerBytes = json.length + pad;
  const bodyBytes = body ? body.length * 4 : 0;
  const out = Buffer.alloc(PREFIX + headerBytes + bodyBytes + 2 * DIGEST);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt8(WIRE_VERSION, 4);
  out.writeUInt8(TYPES.indexOf(header.type), 5);
  out.writeUInt32LE(headerBytes, 8);
  out.writeUInt32LE(bodyBytes, 12);
  json.copy(out, PREFIX);
  out.fill(0x20, PREFIX + json.length, PREFIX + headerBytes); // JSON allows trailing spaces
  if (body) {
    const view = new Float32Array(out.buffer, out.byteOffset + PREFIX + headerBytes, body.length);
    view.set(body);
    if (!littleEndian()) for (let i = 0; i < body.length; i++) out.writeFloatLE(body[i]!, PREFIX + headerBytes + 4 * i);
  }
  const signedEnd = PREFIX + headerBytes + bodyBytes;
  createHash('sha256').update(out.subarray(0, signedEnd)).digest().copy(out, signedEnd);
  createHmac('sha256', key)
    .update(out.subarray(0, signedEnd + DIGEST))
    .digest()
    .copy(out, signedEnd + DIGEST);
  return out;
}

/**
 * Checks and decodes a frame: size, magic, version, checksum, signature, then the header against
 * its type's schema and the body for non-finite values. Throws FrameError with the reason.
 */
export function decodeFrame(buf: Buffer, key: Buffer, maxBytes: number): Frame {
  if (buf.length > maxBytes) throw new FrameError('too-large', `message of ${buf.length} bytes exceeds the limit of ${maxBytes}`);
  if (buf.length < PREFIX + 2 * DIGEST) throw new FrameError('truncated', `message of ${buf.length} bytes is shorter than a frame`);
  if (buf.readUInt32LE(0) !== MAGIC) throw new FrameError('bad-magic', 'not a federation frame (bad magic)');
  const version = buf.readUInt8(4);
  if (version !== WIRE_VERSION) throw new FrameError('unsupported-version', `frame version ${version}, this gateway reads ${WIRE_VERSION}`);
  const type = TYPES[buf.readUInt8(5)];
  if (!type) throw new FrameError('unknown-type', `unknown message type ${buf.readUInt8(5)}`);
  const headerBytes = buf.readUInt32LE(8);
  const bodyBytes = buf.readUInt32LE(12);
  const signedEnd = PREFIX + headerBytes + bodyBytes;
  if (bodyBytes % 4 !== 0 || (PREFIX + headerBytes) % 4 !== 0 || signedEnd + 2 * DIGEST !== buf.length)
    throw new FrameError('truncated', `frame lengths (header ${headerBytes}, body ${bodyBytes}) do not match its ${buf.length} bytes`);
  const sum = createHash('sha256').update(buf.subarray(0, signedEnd)).digest();
  if (!timingSafeEqual(sum, buf.subarray(signedEnd, signedEnd + DIGEST)))
    throw new FrameError('corrupt', 'checksum mismatch: the message was damaged');
  const mac = createHmac('sha256', key)
    .update(buf.subarray(0, signedEnd + DIGEST))
    .digest();
  if (!timingSafeEqual(mac, buf.subarray(signedEnd + DIGEST)))
    throw new FrameError('bad-signature', 'signature does not match the federation key: refused as forged');
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + headerBytes));
  } catch {
    throw new FrameError('bad-header', 'header is not JSON');
  }
  const check = checks[type];
  if (!check.Check(header)) {
    const e = check.Errors(header).First();
    throw new FrameError('bad-header', `${type} header invalid${e ? ` at ${e.path || '/'}: ${e.message}` : ''}`);
  }
  if ((header as FederationHeader).type !== type) throw new FrameError('bad-header', 'header type differs from the frame type');
  const body = new Float32Array(bodyBytes / 4);
  for (let i = 0; i < body.length; i++) {
    const v = buf.readFloatLE(PREFIX + headerBytes + 4 * i);
    if (!Number.isFinite(v)) throw new FrameError('non-finite', `weight ${i} is ${v}`);
    body[i] = v;
  }
  return { header: header as FederationHeader, body };
}

let endian: boolean | null = null;
function littleEndian(): boolean {
  endian ??= new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return endian;
}
