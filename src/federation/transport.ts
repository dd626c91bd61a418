/**
 * The federation's link to the plant's MQTT broker: its own mqtt.js connection (fixed client id,
 * persistent session, QoS 1), so the broker's authentication and topic ACLs decide who may publish
 * plans and updates, and a gateway that reconnects gets the current plan (it is retained).
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { MqttLink } from '../ingest/index.js';

export interface FederationTransport {
  publish(topic: string, payload: Buffer, o: { retain: boolean }): Promise<void>;
  /** Resolves to a function that removes this handler (the broker subscription stays). */
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface BrokerOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** The largest frame accepted from the broker (a model's weights plus its header). */
  maxMessageBytes: number;
  /** The TLS files of `mqtt.tls` (for an mqtts:// or wss:// broker). */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
}

/**
 * The federation on Vigil's own MQTT link, when its broker is the one Vigil ingests from: one
 * connection and one persistent session for both; plans and updates are routed to the federation.
 */
export class LinkFederationTransport implements FederationTransport {
  private readonly routes: Array<{ filter: string; handler: (topic: string, payload: Buffer) => void }> = [];

  constructor(private readonly link: Pick<MqttLink, 'route' | 'unroute' | 'publish' | 'stats'>) {}

  async publish(topic: string, payload: Buffer, o: { retain: boolean }): Promise<void> {
    await this.link.publish(topic, payload, { qos: 1, retain: o.retain });
  }

  async subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => void> {
    const entry = { filter, handler };
    this.routes.push(entry);
    this.link.route(filter, handler);
    return () => {
      this.link.unroute(filter, handler);
      const i = this.routes.indexOf(entry);
      if (i >= 0) this.routes.splice(i, 1);
    };
  }

  get connected(): boolean {
    return this.link.stats.connected;
  }

  /** Routes end; the link itself is closed with the daemon. */
  async close(): Promise<void> {
    for (const r of this.routes.splice(0)) this.link.unroute(r.filter, r.handler);
  }
}

export class MqttFederationTransport implements FederationTransport {
  private readonly handlers: Array<{ filter: string; handler: (topic: string, payload: Buffer) => void }> = [];
  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      for (const h of this.handlers) if (matches(h.filter, topic)) h.handler(topic, payload);
    });
  }

  static async connect(o: BrokerOptions): Promise<MqttFederationTransport> {
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      clean: false,
      protocolVersion: 5,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      properties: { maximumPacketSize: o.maxMessageBytes + 1024, sessionExpiryInterval: 3600 },
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.tls
        ? {
            rejectUnauthorized: o.tls.rejectUnauthorized,
            ca: o.tls.ca ? readFileSync(o.tls.ca) : undefined,
            cert: o.tls.cert ? readFileSync(o.tls.cert) : undefined,
            key: o.tls.key ? readFileSync(o.tls.key) : undefined,
          }
        : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        client.end(true);
        reject(new Error(`federation broker ${o.url}: ${err.message}`));
      };
      client.once('connect', () => {
        client.off('error', fail);
        resolve();
      });
      client.once('error', fail);
    });
    // After the first connection, errors are reconnected through; they must not throw unhandled.
    client.on('error', () => undefined);
    return new MqttFederationTransport(client);
  }

  async publish(topic: string, payload: Buffer, o: { retain: boolean }): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: o.retain });
  }

  async subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => void> {
    const entry = { filter, handler };
    this.handlers.push(entry);
    await this.client.subscribeAsync(filter, { qos: 1 });
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
