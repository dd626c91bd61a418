import { hostname } from 'node:os';
import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { SparkplugSchema } from './sparkplug/config.js';
import { Duration, OptionalDuration, Port, Size, TopicPattern, strict, SecretString } from '../config/schema-parts.js';

export const MqttSchema = Type.Object(
  {
    url: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?|tcp|ssl)://', description: 'external broker; absent = embedded broker' })),
    embedded: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Port(1883),
        users: Type.Array(
          Type.Object(
            {
              username: Type.String({ minLength: 1, maxLength: 128, pattern: '^[^$]' }),
              passwordHash: Type.String({
                pattern: '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9_-]+\\$[A-Za-z0-9_-]+$',
                description: 'scrypt hash as `vigil mqtt-user create` prints it',
              }),
              publish: Type.Optional(
                Type.Array(Type.String({ minLength: 1 }), {
                  description: 'topic filters this user may publish to; absent: any but Vigil’s own output topics',
                }),
              ),
              subscribe: Type.Optional(
                Type.Array(Type.String({ minLength: 1 }), { description: 'topic filters this user may subscribe to; absent: any' }),
              ),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        allowAnonymous: Type.Boolean({ default: false, description: 'clients without a user name, from loopback addresses only' }),
        maxPacketBytes: Size('1MiB', { description: 'a bigger MQTT packet drops its connection before it is read' }),
        preLogin: Type.Object(
          {
            maxConnectBytes: Size('16KiB', {
              description: 'largest packet (the CONNECT: ids, credentials, will) a client may send before it has logged in',
            }),
            maxConnections: Type.Integer({ minimum: 1, default: 128, description: 'connections not logged in yet, overall' }),
            maxPerAddress: Type.Integer({ minimum: 1, default: 32, description: 'connections not logged in yet, per source address' }),
            timeout: Duration('10s', { minimum: 100, description: 'a connection that has not logged in by then is closed' }),
          },
          strict,
        ),
        logins: Type.Object(
          {
            concurrency: Type.Integer({
              minimum: 1,
              maximum: 16,
              default: 1,
              description: 'password checks (scrypt) under way at once, each on a thread of its own that keeps about 40 MB',
            }),
            maxQueued: Type.Integer({
              minimum: 0,
              default: 32,
              description: 'password checks waiting; beyond, a login is refused as busy (CONNACK 3) and the client retries',
            }),
          },
          strict,
        ),
        retained: Type.Object(
          {
            maxMessages: Type.Integer({
              minimum: 0,
              default: 1000,
              description: 'topics other clients may keep a retained message on',
            }),
            maxBytes: Size('64KiB', { description: 'largest retained message of another client' }),
          },
          strict,
        ),
      },
      strict,
    ),
    clientId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'fixed: the persistent session hangs on it; default vigil-<hostname>' }),
    ),
    username: Type.Optional(Type.String({ description: 'user on an external broker' })),
    password: Type.Optional(SecretString()),
    tls: Type.Object(
      {
        ca: Type.Optional(Type.String({ description: 'path to a PEM CA bundle' })),
        cert: Type.Optional(Type.String({ description: 'path to a PEM client certificate' })),
        key: Type.Optional(Type.String({ description: 'path to the PEM key of the client certificate' })),
        rejectUnauthorized: Type.Boolean({ default: true }),
      },
      strict,
    ),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], {
      default: 1,
      description: 'of the subscription; 2 only with an external broker (QoS 1 with idempotent writes stores each reading once)',
    }),
    keepalive: Type.Integer({ minimum: 0, maximum: 65535, default: 30, description: 'seconds' }),
    reconnectMin: Duration('1s', { minimum: 1, description: 'the reconnect backoff starts here and doubles up to reconnectMax' }),
    reconnectMax: Duration('30s', { minimum: 1 }),
    topics: Type.Object(
      {
        telemetry: Type.Array(TopicPattern, {
          minItems: 1,
          default: ['vigil/{site}/{line}/{machine}/telemetry'],
          description: 'topic patterns of readings; {site}, {line}, {machine} name levels',
        }),
        events: Type.Array(TopicPattern, {
          default: ['vigil/{site}/{line}/{machine}/events'],
          description: 'topic patterns of failure, repair, maintenance and note events',
        }),
      },
      strict,
    ),
    format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('line')], {
      default: 'auto',
      description: 'payload format: JSON, InfluxDB line protocol, or told apart per message',
    }),
    sparkplug: SparkplugSchema,
  },
  {
    ...strict,
    description:
      'the MQTT link: the broker Vigil ingests from (the embedded one unless url is set), its session, topics and payload formats',
  },
);

export const IngestSchema = Type.Object(
  {
    maxPayloadBytes: Size('256KiB', { description: 'a bigger message is refused (payload_too_large)' }),
    maxFutureSkew: Duration('5m', { description: 'readings further ahead of the gateway clock are refused' }),
    maxAge: Duration('3650d', { description: 'readings older than this are refused' }),
    allowMachines: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'machine ids accepted; empty accepts any',
    }),
    maxMachines: Type.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'machines scored and watched for data quality (the first seen since start); readings of others are stored only, counted and dead-lettered as machine_limit',
    }),
    maxSensorsPerMachine: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 1000,
      description: 'sensors per machine that scoring and data quality keep state for; further ones are stored only',
    }),
    backfillAge: OptionalDuration(
      "readings and events stamped more than this before they arrive are backfill: stored and learned from, but never stale or missed-failure alerts, and never risk alerts; default: the longest scoring window (learning.window × learning.step, or of a kind's recipe)",
    ),
    lineProtocolPrecision: Type.Union([Type.Literal('ns'), Type.Literal('us'), Type.Literal('ms'), Type.Literal('s')], {
      default: 'ns',
    }),
    deadLetterLimit: Type.Integer({
      minimum: 0,
      default: 1000,
      description: 'refused messages kept with their reasons (GET /api/v1/dead-letters)',
    }),
    fastPath: Type.Union([Type.Literal('auto'), Type.Literal('off')], {
      default: 'auto',
      description:
        "Vigil's own PUBLISH framing/acknowledgement path and JSON reader (ingest/fastpath/); 'off' leaves every packet to mqtt.js and every payload to JSON.parse (slower, same results)",
    }),
  },
  {
    ...strict,
    description: 'what ingest accepts and keeps per machine: payload and time limits, the machine allow-list and caps, dead letters',
  },
);
export type MqttConfig = Omit<StaticDecode<typeof MqttSchema>, 'clientId'> & { clientId: string };
export type IngestConfig = Omit<StaticDecode<typeof IngestSchema>, 'backfillAge'> & { backfillAge: number };

/** Defaults from elsewhere: the client id from the host name, the TLS files relative to the working directory. */
export function resolveMqtt(m: StaticDecode<typeof MqttSchema>, cwd: string): MqttConfig {
  const tls = m.tls;
  return {
    ...m,
    clientId: m.clientId ?? `vigil-${hostname()}`,
    tls: {
      ...tls,
      ca: tls.ca && path.resolve(cwd, tls.ca),
      cert: tls.cert && path.resolve(cwd, tls.cert),
      key: tls.key && path.resolve(cwd, tls.key),
    },
  };
}

/** A reading older than one scoring window when it arrives cannot be part of a live score: that is backfill by default. */
export function resolveIngest(i: StaticDecode<typeof IngestSchema>, scoringWindowMs: number): IngestConfig {
  return { ...i, backfillAge: i.backfillAge ?? scoringWindowMs };
}

export function checkMqtt(m: StaticDecode<typeof MqttSchema>, problem: ProblemReport): void {
  if (m.reconnectMin > m.reconnectMax) problem('mqtt.reconnectMin', 'must not exceed mqtt.reconnectMax');
  // aedes loses QoS 2 deliveries to a persistent session now and then; QoS 1 with writes that are
  // idempotent on (machine, sensor, ts) already stores each reading exactly once.
  if (m.qos === 2 && !m.url)
    problem(
      'mqtt.qos',
      'QoS 2 needs an external broker (mqtt.url); the embedded one delivers QoS 1 at most, which with idempotent writes already stores each reading once',
    );
}
