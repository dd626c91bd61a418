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
  | 'unknown-session'
  | 'busy';

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

/** A frame whose cheap parts were checked (lengths, header against its schema); not yet its checksum or signature. */
export interface InspectedFrame<H extends FederationHeader = FederationHeader> {
  /** The header, or null when it is not a valid one: then `problem` says why, once the checksum tells damage from a bad header. */
  header: H | null;
  problem: FrameError | null;
  headerBytes: number;
  bodyBytes: number;
  /** Where the checksum starts: everything before it is covered by both digests. */
  signedEnd: number;
}

/** Largest header accepted: a plan with the normalisation of 2,000 sensors in many regimes stays well below. */
const MAX_HEADER_BYTES = 2 << 20;

/**
 * The checks that cost nothing next to hashing the frame: size, magic, version, type, lengths, and
 * the header against its type's schema. Refusing here first means a flood of large forged frames
 * costs the gateway a look at their first bytes, not two digests over every byte.
 */
export function inspectFrame(buf: Buffer, maxBytes: number): InspectedFrame {
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
  if (headerBytes > MAX_HEADER_BYTES) throw new FrameError('bad-header', `header of ${headerBytes} bytes (at most ${MAX_HEADER_BYTES})`);
  const lengths = { headerBytes, bodyBytes, signedEnd };
  const problem = headerProblem(type, buf.toString('utf8', PREFIX, PREFIX + headerBytes));
  return typeof problem === 'string'
    ? { header: null, problem: new FrameError('bad-header', problem), ...lengths }
    : { header: problem.header, problem: null, ...lengths };
}

/** The header as its type's schema wants it, or why it is not. */
function headerProblem(type: MessageType, text: string): string | { header: FederationHeader } {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    return 'header is not JSON';
  }
  const check = checks[type];
  if (!check.Check(header)) {
    const e = check.Errors(header).First();
    return `${type} header invalid${e ? ` at ${e.path || '/'}: ${e.message}` : ''}`;
  }
  if ((header as FederationHeader).type !== type) return 'header type differs from the frame type';
  return { header: header as FederationHeader };
}

/** Weights a layout holds: what the body of a plan that carries one must be. */
export function layoutWeights(layout: ReadonlyArray<{ shape: readonly number[] }>): number {
  let n = 0;
  for (const w of layout) n += w.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The body as float32 values, refused if any is not finite. */
export function readBody(buf: Buffer, f: InspectedFrame): Float32Array {
  const body = new Float32Array(f.bodyBytes / 4);
  const at = PREFIX + f.headerBytes;
  if (littleEndian()) body.set(new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + f.bodyBytes)));
  else for (let i = 0; i < body.length; i++) body[i] = buf.readFloatLE(at + 4 * i);
  for (let i = 0; i < body.length; i++) if (!Number.isFinite(body[i]!)) throw new FrameError('non-finite', `weight ${i} is ${body[i]}`);
  return body;
}

/**
 * Checks and decodes a frame on the calling thread: the cheap checks, checksum, signature, body.
 * The daemon verifies off its event loop instead (frame-verifier.ts); this serves tools and tests.
 */
export function decodeFrame(buf: Buffer, key: Buffer, maxBytes: number): Frame {
  const f = inspectFrame(buf, maxBytes);
  const sum = createHash('sha256').update(buf.subarray(0, f.signedEnd)).digest();
  if (!timingSafeEqual(sum, buf.subarray(f.signedEnd, f.signedEnd + DIGEST)))
    throw new FrameError('corrupt', 'checksum mismatch: the message was damaged');
  if (!f.header) throw f.problem!;
  const mac = createHmac('sha256', key)
    .update(buf.subarray(0, f.signedEnd + DIGEST))
    .digest();
  if (!timingSafeEqual(mac, buf.subarray(f.signedEnd + DIGEST)))
    throw new FrameError('bad-signature', 'signature does not match the federation key: refused as forged');
  return { header: f.header, body: readBody(buf, f) };
}

let endian: boolean | null = null;
function littleEndian(): boolean {
  endian ??= new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return endian;
}
