import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.js';
import { backoffDelay } from '../core/backoff.js';
import type { Logger } from '../core/logger.js';
import { redactUrl } from '../core/redact.js';
import { AckBatcher, type AckBatch } from './fastpath/ack-batcher.js';
import { corkableStream, publishPathUnavailable, wrapSockets, type CorkableStream } from './fastpath/mqtt-adapter.js';
import { PublishFilter } from './fastpath/publish-filter.js';
import type { MessageHandler } from './broker-intake.js';
import { topicMatchesFilter } from './topics.js';

export interface LinkOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  qos: 0 | 1 | 2;
  keepalive: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Retained gateway status: `online` on connect, `offline` on a clean stop and as the last will. */
  statusTopic?: string;
  /**
   * Acknowledgements are released in batches: `begin` before the first message of a socket read,
   * `end` after its last (it must make everything they acknowledge durable, or throw), or after
   * `maxMessages` (default 512) when a read holds more.
   */
  ackBatch?: AckBatch;
  /**
   * Vigil's own PUBLISH path (`ingest.fastPath`): 'auto' uses it where it can (TCP/TLS, QoS 0/1
   * subscription, the mqtt.js version it was checked against); 'off' leaves every packet to mqtt.js.
   */
  fastPath?: 'auto' | 'off';
}

export interface ConnectionStats {
  url: string;
  connected: boolean;
  subscribed: boolean;
  since: number | null;
  connects: number;
  lastError: string | null;
  /** Messages deliberately left unacknowledged after an unexpected failure. */
  unacknowledged: number;
  /** QoS 0/1 messages read off the socket by Vigil's own PUBLISH path (the rest go through mqtt.js). */
  fastPathMessages: number;
}

/**
 * Vigil's one connection to the broker: a persistent session (fixed client id, clean: false), its
 * last will and retained status, reconnection with backoff, `publish()` for every stage that sends
 * (alerts, Sparkplug rebirth requests, federation), and a topic router that takes each message to
 * the stage that routed its filter (ingest's pipeline, the plant's busy flag, federation). It is
 * built before the stages that use it and connects once they are all built (`start`), so nothing
 * arrives before its consumers exist. A message is acknowledged only after its handler has made it
 * durable (the journal, for ingest); unacknowledged ones are redelivered after a crash. On TCP and
 * TLS connections subscribed at QoS 0 or 1, PUBLISH packets are read off the socket by
 * `PublishFilter` and mqtt.js handles the rest; otherwise (WebSocket, SOCKS, a QoS 2 subscription)
 * mqtt.js's handleMessage holds the PUBACK until the handler is done.
 */
export class MqttLink {
  private client: MqttClient | null = null;
  private stopping = false;
  /** Exact topics first (a lookup), then filters with wildcards, in the order they were routed. */
  private readonly exact = new Map<string, MessageHandler>();
  private readonly wildcards: Array<{ filter: string; handler: MessageHandler }> = [];
  /** The durable write a turn's acknowledgements wait for (the journal's), from the routes or the options. */
  private ackBatch: AckBatch | undefined;
  readonly stats: ConnectionStats;

  constructor(
    private readonly options: LinkOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.ackBatch = options.ackBatch;
    this.stats = {
      url: redactUrl(options.url),
      connected: false,
      subscribed: false,
      since: null,
      connects: 0,
      lastError: null,
      unacknowledged: 0,
      fastPathMessages: 0,
    };
  }

  /**
   * Messages on `filter` go to `handler`, which returns a promise when it must wait (the message is
   * acknowledged after it settles). Subscribed when the link connects, or at once when it is connected.
   */
  route(filter: string, handler: MessageHandler, o: { ackBatch?: AckBatch } = {}): void {
    // A handler that writes to the journal makes the acknowledgements of every turn wait for its write.
    if (o.ackBatch) {
      if (this.ackBatch && this.ackBatch !== o.ackBatch) throw new Error('the MQTT link takes one acknowledgement batch');
      this.ackBatch = o.ackBatch;
    }
    if (/[+#]/.test(filter)) this.wildcards.push({ filter, handler });
    else this.exact.set(filter, handler);
    if (this.client && this.stats.connected) this.subscribe(this.client, [filter]);
  }

  /** Stops routing `filter` to `handler` (the broker subscription stays: a persistent session keeps its messages). */
  unroute(filter: string, handler: MessageHandler): void {
    if (this.exact.get(filter) === handler) this.exact.delete(filter);
    const i = this.wildcards.findIndex((w) => w.filter === filter && w.handler === handler);
    if (i >= 0) this.wildcards.splice(i, 1);
  }

  /** The filters routed so far. */
  get filters(): string[] {
    return [...this.exact.keys(), ...this.wildcards.map((w) => w.filter)];
  }

  /** One message, from either path, to the stage whose filter it matches. */
  private readonly receive = (topic: string, payload: Buffer): void | Promise<void> => {
    const handler = this.exact.get(topic) ?? this.wildcards.find((w) => topicMatchesFilter(w.filter, topic))?.handler;
    // A message nobody routed (a subscription left from an older configuration in the persistent session).
    if (!handler) return;
    return handler(topic, payload);
  };

  start(): void {
    const o = this.options;
    const tls = o.tls;
    const clientOptions: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: 4,
      keepalive: o.keepalive,
      reconnectPeriod: o.reconnectMinMs,
      connectTimeout: 10_000,
      resubscribe: true,
      username: o.username,
      password: o.password,
      rejectUnauthorized: tls.rejectUnauthorized,
      ca: tls.ca ? readFileSync(tls.ca) : undefined,
      cert: tls.cert ? readFileSync(tls.cert) : undefined,
      key: tls.key ? readFileSync(tls.key) : undefined,
      // mqtt.js traces every packet through `debug` unless given a logger; that costs per message even when off.
      log: () => undefined,
      will: o.statusTopic
        ? { topic: o.statusTopic, payload: Buffer.from(statusPayload('offline', 'connection lost')), qos: 1, retain: true }
        : undefined,
    };
    const client = mqtt.connect(o.url, { ...clientOptions, manualConnect: true });
    this.client = client;
    // Subscribed at QoS 2 the broker may send QoS 2 PUBLISHes, whose handshake stays with mqtt.js:
    // then mqtt.js sees the whole stream as it would without the filter.
    if (o.qos < 2 && o.fastPath !== 'off') this.filterPublishes(client);
    client.connect();

    client.handleMessage = (packet, done) => {
      // A QoS 2 message on a QoS 0/1 subscription (a broker that does not downgrade) must not have
      // its PUBREC corked with other acknowledgements: the batch so far is closed first.
      if (packet.qos === 2) this.ackBatcher?.close();
      else this.batchAcknowledgements(client);
      // done(err) skips the PUBACK but lets mqtt.js go on with the next packet: the broker
      // redelivers the message on the next session instead of the whole stream stalling.
      const fail = (err: unknown) => {
        this.failed(err, packet.topic);
        done(err instanceof Error ? err : new Error(String(err)));
      };
      let pending: void | Promise<void>;
      try {
        pending = this.receive(packet.topic, packet.payload as Buffer);
      } catch (err) {
        fail(err);
        return;
      }
      if (pending) pending.then(() => done(), fail);
      else {
        if (packet.qos !== 2) this.ackBatcher?.counted();
        done();
      }
    };

    client.on('connect', (connack) => {
      const st = this.stats;
      st.connected = true;
      st.since = this.clock.now();
      st.connects++;
      st.lastError = null;
      client.options.reconnectPeriod = o.reconnectMinMs;
      this.reconnectFailures = 0;
      if (o.statusTopic) client.publish(o.statusTopic, statusPayload('online'), { qos: 1, retain: true });
      this.log.info({ url: st.url, sessionPresent: connack.sessionPresent }, 'connected to MQTT broker');
      // Subscribing again is harmless with a present session and needed without one.
      this.subscribe(client, this.filters);
    });
    client.on('close', () => {
      if (this.stats.connected && !this.stopping)
        this.log.warn({ url: this.stats.url }, 'MQTT connection closed; reconnecting with backoff');
      this.stats.connected = false;
      this.stats.subscribed = false;
      // Double the wait after each failed attempt, up to the configured maximum (reset on connect).
      client.options.reconnectPeriod = backoffDelay(++this.reconnectFailures + 1, { initialMs: o.reconnectMinMs, maxMs: o.reconnectMaxMs });
    });
    client.on('error', (err) => {
      this.stats.lastError = err.message;
      this.log.warn({ err }, 'MQTT error');
    });
  }

  private subscribe(client: MqttClient, filters: string[]): void {
    if (filters.length === 0) {
      this.stats.subscribed = true;
      return;
    }
    const st = this.stats;
    client.subscribe(filters, { qos: this.options.qos }, (err, granted) => {
      if (err) {
        st.lastError = `subscribe failed: ${err.message}`;
        this.log.error({ err }, 'subscribe failed');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128);
      if (refused.length > 0) {
        st.lastError = `broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`;
        this.log.error({ refused: refused.map((g) => g.topic) }, 'broker refused subscriptions');
      }
      st.subscribed = refused.length === 0;
      this.log.info({ filters, qos: this.options.qos }, 'subscribed');
    });
  }

  /**
   * Publishes on the link; resolves on the broker's acknowledgement. Refuses while
   * disconnected so the caller (the notification outbox) keeps the message and retries, instead of
   * it waiting in memory where a restart would lose it.
   */
  publish(topic: string, payload: string | Uint8Array, options: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.stats.connected) return Promise.reject(new Error('not connected to the MQTT broker'));
    const body = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return new Promise((resolve, reject) => client.publish(topic, body, options, (err) => (err ? reject(err) : resolve())));
  }

  private failed(err: unknown, topic: string): void {
    this.stats.unacknowledged++;
    // While stopping, refusals are the plan (the broker keeps those messages for the next session).
    if (!this.stopping) this.log.error({ err, topic }, 'ingest failed unexpectedly; message left unacknowledged');
  }

  /**
   * Puts a PublishFilter under each TCP or TLS socket mqtt.js opens (before it connects), when the
   * adapter's checks pass; otherwise says why once and leaves every message to mqtt.js.
   */
  private filterPublishes(client: MqttClient): void {
    const unavailable = publishPathUnavailable(client);
    if (unavailable) {
      this.log.warn({ reason: unavailable }, "Vigil's PUBLISH path is off; messages take mqtt.js's own path (slower, equally safe)");
      return;
    }
    wrapSockets(
      client,
      (socket) =>
        new PublishFilter(
          socket,
          {
            message: (topic, payload) => {
              this.stats.fastPathMessages++;
              return this.receive(topic, payload);
            },
            failed: (err, topic) => this.failed(err, topic),
            batchFailed: (err, messages) => this.batchFailed(err, messages),
          },
          this.ackBatch,
        ),
    );
  }

  private batchFailed(err: unknown, messages: number): void {
    this.stats.unacknowledged += messages;
    this.log.error({ err, messages }, 'journal write failed; dropping the connection so the broker redelivers what it sent');
  }

  /** Connection attempts failed in a row since the last connect: the reconnect backoff's exponent. */
  private reconnectFailures = 0;
  /** mqtt.js's path: the batch of the current turn, over the corked connection it was opened on. */
  private ackBatcher: AckBatcher | null = null;
  private batchStream: CorkableStream | null = null;

  /**
   * On mqtt.js's path, acknowledgements are batched by corking the socket: mqtt.js handles the
   * packets of one read one after another on process.nextTick, all before setImmediate, so their
   * PUBACKs go out in one write after the batch's journal records were written in one. Should that
   * write fail, the connection is dropped with the PUBACKs unsent, and the broker redelivers.
   */
  private batchAcknowledgements(client: MqttClient): void {
    const batch = this.ackBatch;
    // At QoS 2 corking would also gather PUBRECs and PUBCOMPs into one write, and aedes (the embedded
    // broker) answers PUBRECs that arrive together with PUBRELs for the wrong message ids.
    if (!batch || this.options.qos === 2) return;
    const stream = corkableStream(client);
    if (!stream) return;
    if (this.batchStream !== stream) {
      this.ackBatcher?.close();
      this.batchStream = stream;
      this.ackBatcher = new AckBatcher(batch, {
        hold: () => stream.cork(),
        release: () => stream.uncork(),
        fail: (err, messages) => {
          this.batchFailed(err, messages);
          stream.destroy(err instanceof Error ? err : new Error(String(err)));
        },
      });
    }
    // The connection was dropped by a failed batch: these messages are not acknowledged either.
    if (stream.destroyed) return;
    this.ackBatcher!.enter();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.stopping = true;
    if (client && this.options.statusTopic && this.stats.connected) {
      // Bounded: while ingest is held back (backpressure) mqtt.js reads no acknowledgements, and the
      // broker publishes the same state as our last will anyway.
      const offline = this.publish(this.options.statusTopic, statusPayload('offline', 'stopped'), { qos: 1, retain: true }).catch(
        () => undefined,
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([offline, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    }
    this.client = null;
    if (!client) return;
    // Not forced: an in-flight handleMessage finishes and its PUBACK goes out first.
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => client.end(true, {}, () => resolve()), 3000);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.stats.connected = false;
  }
}

function statusPayload(state: 'online' | 'offline', reason?: string): string {
  return JSON.stringify({ state, at: new Date().toISOString(), ...(reason ? { reason } : {}) });
}
