import mqtt from 'mqtt';
import { connectRaw } from './raw-publisher.js';

export interface StreamOptions {
  url: string;
  machines: number;
  /** Messages in total. */
  count: number;
  /** Messages per second; 0 = as fast as the broker takes them. */
  rate: number;
  sensors: number;
  qos: 0 | 1;
  /** Timestamp of the first message of each machine; each next one is 1 ms later, so none collide. */
  startTs: number;
  topicPrefix?: string;
  clientId?: string;
  /** Put the publish time in the payload's ts instead (for latency measurements); must stay unique per machine. */
  stampWithPublishTime?: boolean;
  onProgress?: (acked: number) => void;
  /** `raw`: the lean publisher (raw-publisher.ts), to keep the load generator's CPU off the contenders' cores. */
  client?: 'mqtt.js' | 'raw';
}

export interface StreamResult {
  published: number;
  acked: number;
  failed: number;
  startedAt: number;
  finishedAt: number;
  /** The publishing process's CPU seconds (user + system) for the stream. */
  cpuSeconds: number;
}

export function telemetryTopic(i: number, prefix = 'vigil/bench/line1'): string {
  return `${prefix}/m${String(i).padStart(3, '0')}/telemetry`;
}

/**
 * Publishes `count` telemetry messages round-robin over `machines`, paced at `rate`. Each machine's
 * timestamps are strictly increasing, so every (machine, sensor, ts) is unique.
 */
export async function publishStream(o: StreamOptions): Promise<StreamResult> {
  const clientId = o.clientId ?? `vigil-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let send: (topic: string, payload: string, done: (err?: Error) => void) => void;
  let close: () => Promise<void>;
  if (o.client === 'raw') {
    const conn = await connectRaw(o.url, clientId);
    send = (topic, payload, done) => conn.publish(topic, payload, o.qos, () => done());
    close = () => conn.end();
  } else {
    const client = await mqtt.connectAsync(o.url, { clientId, clean: true, reconnectPeriod: 500 });
    send = (topic, payload, done) => client.publish(topic, payload, { qos: o.qos }, (err) => done(err));
    close = () => client.endAsync();
  }
  const lastTs = new Array<number>(o.machines).fill(o.startTs - 1);
  const values: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const result: StreamResult = { published: 0, acked: 0, failed: 0, startedAt: Date.now(), finishedAt: 0, cpuSeconds: 0 };
  let inFlight = 0;
  const maxInFlight = 1000;

  const publishOne = (): Promise<void> | void => {
    const n = result.published++;
    const m = n % o.machines;
    const ts = o.stampWithPublishTime ? Math.max(Date.now(), lastTs[m]! + 1) : lastTs[m]! + 1;
    lastTs[m] = ts;
    for (let s = 0; s < o.sensors; s++) values[`s${s}`] = Math.round((Math.sin(n / 50 + s) * 100 + s) * 1000) / 1000;
    const payload = JSON.stringify({ ts, values });
    inFlight++;
    send(telemetryTopic(m, o.topicPrefix), payload, (err) => {
      inFlight--;
      if (err) result.failed++;
      else result.acked++;
      o.onProgress?.(result.acked);
    });
  };

  const waitInFlightBelow = async (limit: number) => {
    while (inFlight > limit) await new Promise((r) => setTimeout(r, 2));
  };

  if (o.rate > 0) {
    const tickMs = 10;
    const t0 = Date.now();
    while (result.published < o.count) {
      const due = Math.min(o.count, Math.floor(((Date.now() - t0) / 1000) * o.rate) + 1);
      while (result.published < due) void publishOne();
      await new Promise((r) => setTimeout(r, tickMs));
    }
  } else {
    while (result.published < o.count) {
      void publishOne();
      if (inFlight >= maxInFlight) await waitInFlightBelow(maxInFlight / 2);
    }
  }
  await waitInFlightBelow(0);
  result.finishedAt = Date.now();
  const cpu = process.cpuUsage(cpu0);
  result.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await close();
  return result;
}
