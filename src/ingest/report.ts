import { Type } from '@sinclair/typebox';
import { labelled, stageReport, type StageReport } from '../core/stage-report.js';
import type { BrokerIntake } from './broker-intake.js';
import type { EmbeddedBroker } from './embedded-broker.js';
import type { FleetCap } from './fleet-cap.js';
import type { MqttLink } from './mqtt-link.js';
import type { IngestStats } from './stats.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export const ingestFields = {
  messagesReceived: Type.Integer(),
  messagesAccepted: Type.Integer(),
  messagesRejected: Type.Integer(),
  readingsAccepted: Type.Integer(),
  eventsAccepted: Type.Integer(),
  messagesPerSecond: Type.Number({ description: 'mean over the last 10 s' }),
  readingsPerSecond: Type.Number({ description: 'mean over the last 10 s' }),
  rejectedByReason: Type.Record(Type.String(), Type.Integer()),
  machinesTracked: Type.Integer({ description: 'machines scored and watched (at most ingest.maxMachines)' }),
  maxMachines: Type.Integer(),
  untrackedMessages: Type.Integer({ description: 'messages of machines beyond ingest.maxMachines: stored, not scored or watched' }),
};

export const brokerFields = {
  mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')]),
  url: Type.String(),
  connected: Type.Boolean(),
  subscribed: Type.Boolean(),
  since: NullableString,
  connects: Type.Integer(),
  lastError: NullableString,
  unacknowledged: Type.Integer({ description: 'messages left unacknowledged after a failure (the broker sends them again)' }),
  fastPathMessages: Type.Integer({ description: "QoS 0/1 messages read off the socket by Vigil's PUBLISH path rather than by mqtt.js" }),
  embeddedClients: Type.Optional(Type.Integer()),
  embeddedUnauthenticated: Type.Optional(Type.Integer({ description: 'embedded broker: connections that have not logged in yet' })),
  embeddedIntake: Type.Optional(
    Type.Object(
      {
        messages: Type.Integer({ description: 'messages taken in-process at the embedded broker (acknowledged once journalled)' }),
        refused: Type.Integer({
          description: 'publishes refused unacknowledged (stopping, or the journal write failed); the publisher sends them again',
        }),
        waiting: Type.Integer({ description: 'publishes waiting for the daemon to finish starting' }),
      },
      { description: 'embedded broker: the in-process ingest of the topics Vigil subscribes to' },
    ),
  ),
  embeddedRefused: Type.Optional(
    Type.Record(Type.String(), Type.Integer(), {
      description:
        'embedded broker: connections, publishes and subscriptions refused, and retain flags dropped, by reason (bad_credentials, anonymous_not_allowed, client_id_reserved, reserved_topic, topic_not_allowed, empty_topic_level, subscription_not_allowed, packet_too_large, connect_too_large, too_many_unauthenticated, login_timeout, login_busy, retain_dropped)',
    }),
  ),
};

/** Counters of what arrived and what was refused, and of the fleet cap. */
export function ingestReport(stats: IngestStats, fleet: FleetCap): StageReport<typeof ingestFields> {
  return stageReport({
    section: 'ingest',
    fields: ingestFields,
    read: () => ({
      messagesReceived: stats.messagesReceived,
      messagesAccepted: stats.messagesAccepted,
      messagesRejected: stats.messagesRejected,
      readingsAccepted: stats.readingsAccepted,
      eventsAccepted: stats.eventsAccepted,
      messagesPerSecond: stats.messageRate.perSecond(),
      readingsPerSecond: stats.readingRate.perSecond(),
      rejectedByReason: { ...stats.rejectedByReason } as Record<string, number>,
      machinesTracked: fleet.stats.tracked,
      maxMachines: fleet.max,
      untrackedMessages: fleet.stats.untrackedMessages,
    }),
    metrics: [
      {
        name: 'vigil_ingest_messages_total',
        help: 'MQTT messages by result',
        type: 'counter',
        labelNames: ['result'],
        read: () => [
          [{ result: 'accepted' }, stats.messagesAccepted],
          [{ result: 'rejected' }, stats.messagesRejected],
        ],
      },
      { name: 'vigil_ingest_readings_total', help: 'sensor readings accepted', type: 'counter', read: () => stats.readingsAccepted },
      {
        name: 'vigil_ingest_untracked_messages_total',
        help: 'messages of machines beyond ingest.maxMachines (stored, not scored or watched)',
        type: 'counter',
        read: () => fleet.stats.untrackedMessages,
      },
      {
        name: 'vigil_machines_tracked',
        help: 'machines scored and watched (at most ingest.maxMachines)',
        type: 'gauge',
        read: () => fleet.stats.tracked,
      },
      {
        name: 'vigil_ingest_rejects_total',
        help: 'rejected messages or parts, by reason',
        type: 'counter',
        labelNames: ['reason'],
        read: () => labelled('reason', stats.rejectedByReason as Record<string, number>),
      },
    ],
  });
}

/** The connection to the broker, and the embedded broker's own counters when it runs. */
export function brokerReport(link: MqttLink, broker: EmbeddedBroker | null, intake: BrokerIntake | null): StageReport<typeof brokerFields> {
  // On the embedded broker, "subscribed" is the in-process intake taking messages.
  const subscribed = () => (intake ? intake.isOpen : link.stats.subscribed);
  return stageReport({
    section: 'broker',
    fields: brokerFields,
    read: () => {
      const c = link.stats;
      return {
        mode: broker ? 'embedded' : 'external',
        url: c.url,
        connected: c.connected,
        subscribed: subscribed(),
        since: iso(c.since),
        connects: c.connects,
        lastError: c.lastError,
        unacknowledged: c.unacknowledged,
        fastPathMessages: c.fastPathMessages,
        ...(broker
          ? {
              embeddedClients: broker.clients,
              embeddedUnauthenticated: broker.unauthenticated,
              embeddedRefused: { ...broker.stats.refused } as Record<string, number>,
              ...(intake ? { embeddedIntake: { ...intake.stats } } : {}),
            }
          : {}),
      };
    },
    notReady: () => (subscribed() ? [] : ['not subscribed to the MQTT broker']),
  });
}
