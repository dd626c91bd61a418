import type { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';

export interface SinkStats {
  published: number;
  acked: number;
  failed: number;
}

/** Where simulated or replayed messages go. `publish` returns a promise only when the caller must wait. */
export interface MessageSink {
  publish(topic: string, payload: string): void | Promise<void>;
  close(): Promise<SinkStats>;
}

/** MQTT at QoS 0/1 with a bounded number of unacknowledged messages in flight. */
export class MqttSink implements MessageSink {
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  readonly stats: SinkStats = { published: 0, acked: 0, failed: 0 };
  lastError: string | null = null;

  private constructor(
    private readonly client: MqttClient,
    private readonly qos: 0 | 1,
    private readonly window: number,
  ) {}

  static async connect(
    url: string,
    options: { qos: 0 | 1; clientId?: string; username?: string; password?: string; window?: number },
  ): Promise<MqttSink> {
    const client = await mqtt.connectAsync(url, {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    return new MqttSink(client, options.qos, options.window ?? 1000);
  }

  publish(topic: string, payload: string): void | Promise<void> {
    this.stats.published++;
    this.inFlight++;
    this.client.publish(topic, payload, { qos: this.qos }, (err) => {
      this.inFlight--;
      if (err) {
        this.stats.failed++;
        this.lastError = err.message;
      } else this.stats.acked++;
      if (this.inFlight <= this.window / 2 && this.waiters.length > 0) {
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      }
    });
    if (this.inFlight >= this.window) return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<SinkStats> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.client.endAsync();
    return this.stats;
  }
}

/** `--dry-run`: one JSON object per line, `{"topic", "payload"}`, honouring the stream's backpressure. */
export class NdjsonSink implements MessageSink {
  readonly stats: SinkStats = { published: 0, acked: 0, failed: 0 };

  constructor(private readonly out: Writable) {}

  publish(topic: string, payload: string): void | Promise<void> {
    this.stats.published++;
    this.stats.acked++;
    const ok = this.out.write(`{"topic":${JSON.stringify(topic)},"payload":${payload}}\n`);
    if (!ok) return new Promise((resolve) => this.out.once('drain', () => resolve()));
  }

  async close(): Promise<SinkStats> {
    return this.stats;
  }
}
