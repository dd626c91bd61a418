import type { VigilConfig } from '../config/schema.js';
import type { DeadLetterSink } from '../core/dead-letter.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { BatchSink, MachineEvent } from '../core/types.js';
import { MessageDecoder } from './decoder.js';
import { EmbeddedBroker } from './embedded-broker.js';
import type { FleetCap } from './fleet-cap.js';
import { MqttSubscriber } from './mqtt-subscriber.js';
import { IngestPipeline } from './pipeline.js';
import { BrokerIntake } from './broker-intake.js';
import { routeMessages } from './route-message.js';
import { brokerReport, ingestReport } from './report.js';
import type { IngestStats } from './stats.js';
import { compileTopicPattern } from './topics.js';
import type { SensorMetadata } from '../core/sensor-metadata.js';
import { SparkplugHost } from './sparkplug/host.js';
import { sparkplugReport } from './sparkplug/report.js';

/** The one set of rules every input path applies (MQTT, the journal's read-back, HTTP events). */
export function buildDecoder(config: VigilConfig, o: { keepValueText: boolean; metadata: SensorMetadata }): MessageDecoder {
  const i = config.ingest;
  const sp = config.mqtt.sparkplug;
  return new MessageDecoder({
    telemetryTopics: config.mqtt.topics.telemetry,
    eventTopics: config.mqtt.topics.events,
    format: config.mqtt.format,
    maxPayloadBytes: i.maxPayloadBytes,
    maxFutureSkewMs: i.maxFutureSkew,
    maxAgeMs: i.maxAge,
    allowMachines: i.allowMachines,
    lineProtocolPrecision: i.lineProtocolPrecision,
    keepValueText: o.keepValueText,
    fastPath: i.fastPath !== 'off',
    ...(sp.enabled
      ? {
          sparkplug: {
            groups: sp.groups,
            host: new SparkplugHost(
              {
                site: sp.site,
                line: sp.line,
                machine: sp.machine,
                nodeMachine: sp.nodeMachine,
                sensors: sp.sensors,
                stripPrefixes: sp.stripPrefixes,
                ignore: sp.ignore,
                rebirth: sp.rebirth,
                rebirthMinIntervalMs: sp.rebirthMinInterval,
                rebirthsPerSecond: sp.rebirthsPerSecond,
                maxNodes: sp.maxNodes,
                maxNewNodesPerMinute: sp.maxNewNodesPerMinute,
                maxAliases: sp.maxAliases,
              },
              o.metadata,
            ),
          },
        }
      : {}),
  });
}

export interface IngestStage {
  subscriber: MqttSubscriber;
  broker: EmbeddedBroker | null;
  mqttUrl: string;
  /** An event that came another way (a technician over HTTP), already checked: counted and admitted like one from MQTT, then the same path. */
  submitEvent(e: MachineEvent): Promise<void>;
}

/**
 * The MQTT side: the embedded broker when no external one is configured, and Vigil's subscription.
 * The broker starts here; the subscription once every stage is built, so nothing arrives before
 * its consumers exist. At stop the subscription ends first: the broker keeps what was not acknowledged.
 */
export async function buildIngest(
  config: VigilConfig,
  d: {
    decoder: MessageDecoder;
    sink: BatchSink;
    deadLetters: DeadLetterSink;
    stats: IngestStats;
    fleet: FleetCap;
    ackBatch: { begin(): void; end(): void };
    signals?: Record<string, (payload: string) => void>;
    /** Called as the subscription stops: what waits on backpressure lets go, so stopping does not wait on it. */
    onStopping?: () => void;
  },
  life: Lifecycle,
): Promise<IngestStage> {
  const { clock, log } = life;
  const m = config.mqtt;
  let broker: EmbeddedBroker | null = null;
  if (!m.url) {
    const e = m.embedded;
    broker = new EmbeddedBroker(
      {
        host: e.host,
        port: e.port,
        users: e.users,
        allowAnonymous: e.allowAnonymous,
        maxPacketBytes: e.maxPacketBytes,
        preLogin: {
          maxConnectBytes: e.preLogin.maxConnectBytes,
          maxConnections: e.preLogin.maxConnections,
          maxPerAddress: e.preLogin.maxPerAddress,
          timeoutMs: e.preLogin.timeout,
        },
        logins: e.logins,
        retained: e.retained,
        selfClientId: m.clientId,
        reservedTopics: [compileTopicPattern(config.notify.mqtt.alertTopic).filter, config.notify.mqtt.statusTopic],
      },
      log.child({ component: 'broker' }),
    );
    await broker.start();
    const started = broker;
    life.release('broker', () => started.stop());
  }
  const mqttUrl = m.url ?? broker!.url;
  // On the embedded broker Vigil's connection carries credentials made for this run only.
  const own = broker?.selfCredentials;
  const pipeline = new IngestPipeline(d.decoder, d.sink, d.deadLetters, d.stats, clock, d.fleet);
  const signals = d.signals ?? {};
  const receive = routeMessages(signals, pipeline, log.child({ component: 'mqtt' }));
  const topics = [...d.decoder.filters, ...Object.keys(signals)];
  // The embedded broker hands Vigil what it ingests in-process, acknowledged once journalled; Vigil's
  // connection then subscribes to nothing and only publishes (alerts, status, rebirth requests).
  const intake = broker ? new BrokerIntake(topics, receive, d.ackBatch) : null;
  if (intake) broker!.takeIngest(intake);
  const subscriber = new MqttSubscriber(
    {
      url: mqttUrl,
      clientId: m.clientId,
      username: own?.username ?? m.username,
      password: own?.password ?? m.password,
      tls: m.tls,
      qos: m.qos,
      keepalive: m.keepalive,
      reconnectMinMs: m.reconnectMin,
      reconnectMaxMs: m.reconnectMax,
      filters: intake ? [] : topics,
      statusTopic: config.notify.mqtt.enabled ? config.notify.mqtt.statusTopic : undefined,
      ackBatch: d.ackBatch,
      fastPath: config.ingest.fastPath,
    },
    receive,
    clock,
    log.child({ component: 'mqtt' }),
  );
  life.whenRunning(() => {
    intake?.open();
    subscriber.start();
  });
  life.release('mqtt', async () => {
    d.onStopping?.();
    intake?.close();
    await subscriber.stop();
  });
  life.report(ingestReport(d.stats, d.fleet), brokerReport(subscriber, broker, intake), sparkplugReport(d.decoder.sparkplug));
  const host = d.decoder.sparkplug;
  if (host) {
    const spLog = log.child({ component: 'sparkplug' });
    host.onRebirthRequest = (topic, payload) => {
      spLog.info({ topic }, 'asking the edge node for a rebirth');
      subscriber
        .publish(topic, payload, { qos: 0, retain: false })
        .catch((err: unknown) => spLog.warn({ err, topic }, 'rebirth request not sent'));
    };
  }
  const submitEvent = async (e: MachineEvent): Promise<void> => {
    d.stats.eventsAccepted++;
    d.fleet.admit(e.machine.machine);
    await d.sink.accept({ samples: [], events: [e] });
  };
  return { subscriber, broker, mqttUrl, submitEvent };
}
