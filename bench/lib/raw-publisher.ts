/**
 * A lean MQTT 3.1.1 publisher for load benchmarks: CONNECT, QoS 1 PUBLISH packets written straight
 * to the socket, PUBACKs counted. mqtt.js spends several times the CPU per message of the daemon
 * under test; on a 2-core host that comes out of the very cores the contenders run on. Only what a
 * load generator needs: no reconnect, no session, no QoS 2.
 */
import net from 'node:net';

export interface RawConnection {
  /** Writes one QoS 0/1 PUBLISH; `onAck` runs when the broker acknowledges it (QoS 1). */
  publish(topic: string, payload: string, qos: 0 | 1, onAck?: () => void): void;
  /** Packets written and not yet acknowledged. */
  readonly inFlight: number;
  /** Writes queued in the socket: the caller pauses when this is large. */
  readonly writableLength: number;
  end(): Promise<void>;
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function connectPacket(clientId: string, keepalive: number): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, keepalive >> 8, keepalive & 0xff]);
  const body = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

export async function connectRaw(url: string, clientId: string, keepaliveSeconds = 60): Promise<RawConnection> {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port || 1883) });
  socket.setNoDelay(true);
  const pending = new Map<number, () => void>();
  let nextId = 1;
  let input: Buffer = Buffer.alloc(0);
  let connected: (() => void) | null = null;
  let failed: ((err: Error) => void) | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  socket.on('error', (err) => failed?.(err));
  socket.on('data', (chunk: Buffer) => {
    input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
    let at = 0;
    for (;;) {
      if (at + 2 > input.length) break;
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      while (i < input.length) {
        const b = input[i++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + length > input.length) break;
      const type = input[at]! >> 4;
      if (type === 2) {
        // CONNACK: return code in the second byte of its body.
        if (input[i + 1] !== 0) failed?.(new Error(`broker refused the connection: return code ${input[i + 1]}`));
        else connected?.();
      } else if (type === 4) {
        const id = input.readUInt16BE(i);
        const ack = pending.get(id);
        pending.delete(id);
        ack?.();
      }
      at = i + length;
    }
    input = input.subarray(at);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(connectPacket(clientId, keepaliveSeconds));
  await ready;
  const ping = setInterval(() => socket.write(Buffer.from([0xc0, 0])), (keepaliveSeconds * 1000) / 2);
  ping.unref();
  return {
    publish(topic, payload, qos, onAck) {
      const topicBytes = Buffer.byteLength(topic, 'utf8');
      const payloadBytes = Buffer.byteLength(payload, 'utf8');
      const length = 2 + topicBytes + (qos === 1 ? 2 : 0) + payloadBytes;
      const lengthBytes = remainingLength(length);
      const packet = Buffer.allocUnsafe(1 + lengthBytes.length + length);
      let at = 0;
      packet[at++] = qos === 1 ? 0x32 : 0x30;
      for (const b of lengthBytes) packet[at++] = b;
      packet.writeUInt16BE(topicBytes, at);
      at += 2;
      at += packet.write(topic, at, 'utf8');
      if (qos === 1) {
        // Ids wrap at 65535; far more than the in-flight window, so none is still pending when reused.
        const id = nextId;
        nextId = nextId === 65535 ? 1 : nextId + 1;
        packet.writeUInt16BE(id, at);
        at += 2;
        pending.set(id, onAck ?? (() => undefined));
      }
      packet.write(payload, at, 'utf8');
      socket.write(packet);
      if (qos === 0) onAck?.();
    },
    get inFlight() {
      return pending.size;
    },
    get writableLength() {
      return socket.writableLength;
    },
    async end() {
      clearInterval(ping);
      socket.end(Buffer.from([0xe0, 0]));
      await new Promise((r) => socket.once('close', r));
    },
  };
}
