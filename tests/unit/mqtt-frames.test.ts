/**
 * The fast path's MQTT framing against mqtt-packet (what mqtt.js itself writes and parses): packets
 * of every size class cut at random points come out whole, byte for byte, with the right fields.
 */
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { FrameReader, PubackBuffer, readPublish, type Frame } from '../../src/ingest/fastpath/frames.js';

const encode = (p: Packet) => mqttPacket.generate(p);

function publish(
  topic: string,
  payload: Buffer,
  qos: 0 | 1 | 2,
  messageId: number,
  extra: { dup?: boolean; retain?: boolean } = {},
): Buffer {
  return encode({
    cmd: 'publish',
    topic,
    payload,
    qos,
    messageId: qos > 0 ? messageId : undefined,
    dup: extra.dup ?? false,
    retain: extra.retain ?? false,
  } as Packet);
}

const packetArb = fc.oneof(
  fc
    .record({
      topic: fc
        .string({ minLength: 1, maxLength: 60 })
        .filter((t) => !t.includes('+') && !t.includes('#') && !t.includes(String.fromCharCode(0))),
      // Up to 20 000 bytes: remaining lengths of one, two and three bytes.
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 100, max: 20_000 }).map((n) => new Uint8Array(n).fill(7)),
      ),
      qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
      messageId: fc.integer({ min: 1, max: 65_535 }),
      dup: fc.boolean(),
      retain: fc.boolean(),
    })
    .map((p) => ({
      bytes: publish(p.topic, Buffer.from(p.payload), p.qos, p.messageId, p),
      expect: { ...p, payload: Buffer.from(p.payload) },
    })),
  fc.constant({ bytes: encode({ cmd: 'pingresp' } as Packet), expect: null }),
  fc
    .integer({ min: 1, max: 65_535 })
    .map((messageId) => ({ bytes: encode({ cmd: 'suback', messageId, granted: [1, 0] } as Packet), expect: null })),
  fc.integer({ min: 1, max: 65_535 }).map((messageId) => ({ bytes: encode({ cmd: 'puback', messageId } as Packet), expect: null })),
  fc.constant({ bytes: encode({ cmd: 'connack', returnCode: 0, sessionPresent: true } as Packet), expect: null }),
);

function readAll(reader: FrameReader, chunks: Buffer[]): Frame[] {
  const frames: Frame[] = [];
  for (const c of chunks) {
    reader.push(c);
    for (let f = reader.next(); f; f = reader.next()) frames.push({ ...f, bytes: Buffer.from(f.bytes) });
  }
  return frames;
}

describe('MQTT framing for the PUBLISH fast path', () => {
  it('cuts packets out of a stream split anywhere, byte for byte, and reads PUBLISH fields as mqtt-packet wrote them', () => {
    fc.assert(
      fc.property(
        fc.array(packetArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 1 << 20 }), { maxLength: 30 }),
        (packets, cutSeeds) => {
          const stream = Buffer.concat(packets.map((p) => p.bytes));
          const cuts = [...new Set(cutSeeds.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let from = 0;
          for (const c of [...cuts, stream.length]) {
            chunks.push(stream.subarray(from, c));
            from = c;
          }
          const reader = new FrameReader();
          const frames = readAll(reader, chunks);
          expect(reader.malformed).toBe(false);
          expect(frames.map((f) => f.bytes.toString('hex'))).toEqual(packets.map((p) => p.bytes.toString('hex')));
          frames.forEach((f, i) => {
            const want = packets[i]!.expect;
            const got = readPublish(f);
            if (!want) {
              expect(got).toBeNull();
              return;
            }
            expect(got).toEqual({ topic: want.topic, qos: want.qos, messageId: want.qos > 0 ? want.messageId : 0, payload: want.payload });
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('holds a packet back until its last byte arrives', () => {
    const bytes = publish('vigil/p/l/m1/telemetry', Buffer.alloc(300, 1), 1, 42);
    const reader = new FrameReader();
    for (let i = 0; i < bytes.length - 1; i++) {
      reader.push(bytes.subarray(i, i + 1));
      expect(reader.next()).toBeNull();
    }
    reader.push(bytes.subarray(bytes.length - 1));
    const frame = reader.next()!;
    expect(readPublish(frame)).toMatchObject({ topic: 'vigil/p/l/m1/telemetry', qos: 1, messageId: 42 });
    expect(reader.next()).toBeNull();
  });

  it('joins a large packet arriving in many reads once, when its last byte is in', () => {
    const payload = Buffer.alloc(3 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const bytes = Buffer.concat([publish('vigil/p/l/m1/telemetry', payload, 1, 7), encode({ cmd: 'pingresp' } as Packet)]);
    const reader = new FrameReader();
    const frames: Frame[] = [];
    let copies = 0;
    const concat = Buffer.concat.bind(Buffer);
    Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
      copies++;
      return concat(list, length);
    }) as typeof Buffer.concat;
    try {
      for (let at = 0; at < bytes.length; at += 65_536) {
        reader.push(bytes.subarray(at, at + 65_536));
        for (let f = reader.next(); f; f = reader.next()) frames.push(f);
      }
    } finally {
      Buffer.concat = concat;
    }
    expect(frames.map((f) => f.type)).toEqual([3, 13]);
    expect(readPublish(frames[0]!)!.payload.equals(payload)).toBe(true);
    expect(copies).toBe(1);
  });

  it('marks a remaining length longer than four bytes as malformed and hands the rest on unparsed', () => {
    const reader = new FrameReader();
    const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3]);
    reader.push(Buffer.concat([encode({ cmd: 'pingresp' } as Packet), bad]));
    expect(reader.next()?.type).toBe(13);
    expect(reader.next()).toBeNull();
    expect(reader.malformed).toBe(true);
    expect(reader.rest()).toEqual(bad);
  });

  it('leaves malformed PUBLISH packets and QoS 3 to mqtt.js', () => {
    const frame = (bytes: number[]): Frame => {
      const r = new FrameReader();
      r.push(Buffer.from(bytes));
      return r.next()!;
    };
    // Topic length 10, only 3 bytes of topic.
    expect(readPublish(frame([0x32, 0x05, 0x00, 0x0a, 0x61, 0x62, 0x63]))).toBeNull();
    // QoS 1 without room for the message id.
    expect(readPublish(frame([0x32, 0x04, 0x00, 0x01, 0x61, 0x00]))).toBeNull();
    // QoS 3 is not a QoS.
    expect(readPublish(frame([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]))).toBeNull();
    // Body shorter than a topic length.
    expect(readPublish(frame([0x30, 0x01, 0x00]))).toBeNull();
  });

  it('writes PUBACKs mqtt-packet reads back, in order, growing past its first buffer', () => {
    const acks = new PubackBuffer();
    const ids = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 65_536);
    for (const id of ids) acks.add(id);
    expect(acks.count).toBe(1000);
    const parsed: number[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      expect(p.cmd).toBe('puback');
      parsed.push((p as { messageId: number }).messageId);
    });
    parser.parse(acks.take()!);
    expect(parsed).toEqual(ids);
    expect(acks.take()).toBeNull();
  });
});
