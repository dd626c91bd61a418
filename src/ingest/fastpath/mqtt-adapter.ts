import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { MqttClient } from 'mqtt';

/**
 * The one place that reaches into mqtt.js's internals, for the version it was written against
 * (package.json pins mqtt exactly). Each use is checked before it is relied on; when a check fails
 * the caller falls back to mqtt.js's own, public path and says so in its log.
 */
export const MQTT_VERSION_CHECKED = '5.16.0';

function mqttVersion(): string {
  try {
    return (createRequire(import.meta.url)('mqtt/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

type StreamBuilderHolder = { streamBuilder?: (c: MqttClient) => Duplex };

/**
 * Whether Vigil's PUBLISH path can sit under this client: mqtt.js keeps the function that opens its
 * socket as `streamBuilder` (private) and calls it on each (re)connect. Null when it can; otherwise why not.
 */
export function publishPathUnavailable(client: MqttClient): string | null {
  const version = mqttVersion();
  if (version !== MQTT_VERSION_CHECKED)
    return `mqtt ${version} is not the version the PUBLISH path was checked against (${MQTT_VERSION_CHECKED})`;
  if (typeof (client as unknown as StreamBuilderHolder).streamBuilder !== 'function')
    return 'this mqtt.js client has no stream builder to wrap';
  return null;
}

/** Wraps each TCP or TLS socket mqtt.js opens; other transports (WebSocket, SOCKS) are left as they are. */
export function wrapSockets(client: MqttClient, wrap: (socket: Socket) => Duplex): void {
  const holder = client as unknown as StreamBuilderHolder;
  const build = holder.streamBuilder!;
  holder.streamBuilder = (c) => {
    const stream = build(c);
    return stream instanceof Socket ? wrap(stream) : stream;
  };
}

export interface CorkableStream {
  cork(): void;
  uncork(): void;
  destroy(err?: Error): void;
  destroyed?: boolean;
}

/** The client's current connection, when it can be corked (a net/TLS socket or our filter over one). */
export function corkableStream(client: MqttClient): CorkableStream | null {
  const stream = client.stream as Partial<CorkableStream> | undefined;
  return stream && typeof stream.cork === 'function' && typeof stream.uncork === 'function' ? (stream as CorkableStream) : null;
}
