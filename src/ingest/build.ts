import type { IngestConfig, MqttConfig } from './config.js';
import type { DeadLetterSink } from '../core/dead-letter.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { BatchSink, MachineEvent } from '../core/types.js';
import { MessageDecoder } from './decoder.js';
import { EmbeddedBroker } from './embedded-broker.js';
import type { FleetCap } from './fleet-cap.js';
import { MqttLink } from './mqtt-link.js';
import { IngestPipeline } from './pipeline.js';
import { BrokerIntake } from './broker-intake.js';
import type { AckBatch } from './fastpath/ack-batcher.js';
import { brokerReport, ingestReport } from './report.js';
import type { IngestStats } from './stats.js';
import { compileTopicPattern } from './topics.js';
import type { SensorMetadata } from '../core/sensor-metadata.js';
import type { Logger } from '../core/logger.js';
import type { PresenceFeed } from '../core/presence.js';
import { SparkplugHost } from './sparkplug/host.js';
import { sparkplugReport } from './sparkplug/report.js';

/** What ingest reads of the config: its own sections, and where Vigil's own messages go (alerts' `notify.mqtt`). */
export interface IngestSections {
  mqtt: MqttConfig;
  ingest: IngestConfig;
  notify: { mqtt: { enabled: boolean; alertTopic: string; statusTopic: string } };
}

/** The one set of rules every input path applies (MQTT, the journal's read-back, HTTP events). */
export function buildDecoder(
  config: IngestSections,
  o: { keepValueText: boolean; metadata: SensorMetadata; link: LinkStage; presence: PresenceFeed; log: Logger },
): MessageDecoder {
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
              sp,
              o.metadata,
              (topic, payload) => {
                o.log.info({ topic }, 'asking the edge node for a rebirth');
                o.link.mqtt
                  .publish(topic, payload, { qos: 0, retain: false })
                  .catch((err: unknown) => o.log.warn({ err, topic }, 'rebirth request not sent'));
              },
              o.presence,
            ),
          },
        }
      : {}),
  });
}

/** The broker side: the embedded broker (when no external one is configured) and Vigil's MQTT link. */
export interface LinkStage {
  mqtt: MqttLink;
  broker: EmbeddedBroker | null;
  url: string;
}

/**
 * Vigil's MQTT link, built before the stages that send or route on it (alerts, the Sparkplug host,
 * the scheduler's plant signal, federation), and the embedded broker when no external one is
 * configured. The link connects once every stage is built (a source, started last); at stop it is
 * released after them, so the outbox can still publish while they stop, and the broker after it.
 */
export async function buildLink(config: IngestSections, life: Lifecycle): Promise<LinkStage> {
  const { clock, log } = life;
  const m = config.mqtt;
  let broker: EmbeddedBroker | null = null;
  if (!m.url) {
    const e = m.embedded;
    broker = new EmbeddedBroker(
      {
        ...e,
        selfClientId: m.clientId,
        // buildIngest attaches Vigil's intake after the other stages are built; nothing is acknowledged before it.
        intakeExpected: true,
        reservedTopics: [compileTopicPattern(config.notify.mqtt.alertTopic).filter, config.notify.mqtt.statusTopic],
      },
      log.child({ component: 'broker' }),
    );
    await broker.start();
    const started = broker;
    life.release('broker', () => started.stop());
  }
  const url = m.url ?? broker!.url;
  // On the embedded broker Vigil's connection carries credentials made for this run only.
  const own = broker?.selfCredentials;
  const mqtt = new MqttLink(
    {
      url,
      clientId: m.clientId,
      username: own?.username ?? m.username,
      password: own?.password ?? m.password,
      tls: m.tls,
      qos: m.qos,
      keepalive: m.keepalive,
      reconnectMinMs: m.reconnectMin,
      reconnectMaxMs: m.reconnectMax,
      statusTopic: config.notify.mqtt.enabled ? config.notify.mqtt.statusTopic : undefined,
      fastPath: config.ingest.fastPath,
    },
    clock,
    log.child({ component: 'mqtt' }),
  );
  life.whenRunning(() => mqtt.start(), { source: true });
  life.release('mqtt', () => mqtt.stop());
  return { mqtt, broker, url };
}

export interface IngestStage {
  /** The embedded broker's in-process intake, or null on an external broker. */
  intake: BrokerIntake | null;
  /** An event that came another way (a technician over HTTP), already checked: counted and admitted like one from MQTT, then the same path. */
  submitEvent(e: MachineEvent): Promise<void>;
}

/**
 * Ingest: the pipeline (decode, count, dead-letter, hand to the durable sink) plugged into the link
 * for the configured topics, or into the embedded broker's intake, which acknowledges each publish
 * once journalled. At stop it is released before the stages it feeds: held messages are let go and
 * new ones refused, so they stay with the broker (or the publisher) for the next start.
 */
export function buildIngest(
  config: IngestSections,
  d: {
    link: LinkStage;
    decoder: MessageDecoder;
    sink: BatchSink;
    deadLetters: DeadLetterSink;
    stats: IngestStats;
    fleet: FleetCap;
    /** Makes the journal records of a batch of messages durable before their acknowledgements go out. */
    ackBatch: AckBatch;
    /** Called as ingest stops: what waits on backpressure lets go, so stopping does not wait on it. */
    onStopping?: () => void;
  },
  life: Lifecycle,
): IngestStage {
  const { clock } = life;
  const pipeline = new IngestPipeline(d.decoder, d.sink, d.deadLetters, d.stats, clock, d.fleet);
  let stopping = false;
  const handle = (topic: string, payload: Buffer) =>
    stopping ? Promise.reject(new Error('ingest is stopping; the message stays with the broker')) : pipeline.handle(topic, payload);
  const broker = d.link.broker;
  // The embedded broker hands Vigil what it ingests in-process, acknowledged once journalled.
  const intake = broker ? new BrokerIntake(d.decoder.filters, handle, d.ackBatch) : null;
  if (intake) {
    broker!.takeIngest(intake);
    life.whenRunning(() => intake.open(), { source: true });
  } else for (const filter of d.decoder.filters) d.link.mqtt.route(filter, handle, { ackBatch: d.ackBatch });
  life.release('ingest', () => {
    stopping = true;
    d.onStopping?.();
    intake?.close();
  });
  life.report(ingestReport(d.stats, d.fleet), brokerReport(d.link.mqtt, broker, intake), sparkplugReport(d.decoder.sparkplug));
  const submitEvent = async (e: MachineEvent): Promise<void> => {
    d.stats.eventsAccepted++;
    d.fleet.admit(e.machine.machine);
    await d.sink.accept({ samples: [], events: [e] });
  };
  return { intake, submitEvent };
}
