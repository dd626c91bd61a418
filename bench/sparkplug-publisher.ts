/**
 * Child process of bench:sparkplug: edge nodes publishing Sparkplug B at QoS 1 as fast as the broker
 * takes it. Payloads are encoded before the clock starts (Tahu's proto via protobufjs), so the
 * figures are the daemon's, not the encoder's. Prints {ready, at} when publishing starts, then the result.
 */
import mqtt from 'mqtt';
import { encodePayload } from '../src/ingest/sparkplug/codec.js';

export interface SparkplugStreamOptions {
  url: string;
  nodes: number;
  devices: number;
  metrics: number;
  /** DDATA messages per device. */
  messages: number;
  startTs: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as SparkplugStreamOptions;
const group = `bench${Date.now() % 100_000}`;
const frames: Array<[string, Buffer]> = [];
for (let n = 0; n < o.nodes; n++) {
  const node = `edge${n}`;
  let seq = 0;
  const next = () => seq++ % 256;
  frames.push([
    `spBv1.0/${group}/NBIRTH/${node}`,
    Buffer.from(encodePayload({ timestamp: o.startTs, seq: next(), metrics: [{ name: 'bdSeq', datatype: 4, longValue: 0 }] })),
  ]);
  for (let d = 0; d < o.devices; d++)
    frames.push([
      `spBv1.0/${group}/DBIRTH/${node}/dev${d}`,
      Buffer.from(
        encodePayload({
          timestamp: o.startTs,
          seq: next(),
          metrics: Array.from({ length: o.metrics }, (_, k) => ({
            name: `Sensors/s${k}`,
            alias: d * 1000 + k,
            datatype: 10,
            doubleValue: 0,
          })),
        }),
      ),
    ]);
  // DDATA round-robin over the node's devices, alias-only, one ms apart per device.
  for (let i = 1; i <= o.messages; i++)
    for (let d = 0; d < o.devices; d++)
      frames.push([
        `spBv1.0/${group}/DDATA/${node}/dev${d}`,
        Buffer.from(
          encodePayload({
            timestamp: o.startTs + i,
            seq: next(),
            metrics: Array.from({ length: o.metrics }, (_, k) => ({ alias: d * 1000 + k, doubleValue: Math.sin(i / 50 + k) * 10 + k })),
          }),
        ),
      ]);
}
const client = await mqtt.connectAsync(o.url, { clientId: `sp-bench-${process.pid}` });
const startedAt = Date.now();
process.stdout.write(`${JSON.stringify({ ready: true, at: startedAt })}\n`);
// Births go first and in order; then a bounded window of QoS 1 publishes in flight.
const WINDOW = 500;
let acked = 0;
for (let i = 0; i < frames.length; i += WINDOW) {
  await Promise.all(
    frames.slice(i, i + WINDOW).map(([t, p]) =>
      client.publishAsync(t, p, { qos: 1 }).then(() => {
        acked++;
      }),
    ),
  );
}
const finishedAt = Date.now();
await client.endAsync();
process.stdout.write(`${JSON.stringify({ acked, startedAt, finishedAt, group })}\n`);
