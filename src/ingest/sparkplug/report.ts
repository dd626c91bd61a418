import { Type } from '@sinclair/typebox';
import { stageReport, type StageReport } from '../../core/stage-report.js';
import { noCounters, type SparkplugHost } from './host.js';

export const sparkplugFields = {
  enabled: Type.Boolean({ description: 'mqtt.sparkplug.enabled: spBv1.0 topics are subscribed to' }),
  nodes: Type.Integer({ description: 'edge nodes with session state (at most mqtt.sparkplug.maxNodes)' }),
  offlineMachines: Type.Integer({ description: 'machines whose edge node or device sent a DEATH and no BIRTH since' }),
  births: Type.Integer(),
  deaths: Type.Integer(),
  staleDeaths: Type.Integer({
    description: "NDEATHs ignored: an older session's bdSeq (a late will), a node already dead, or a node never seen",
  }),
  seqGaps: Type.Integer(),
  dataBeforeBirth: Type.Integer(),
  rebirthRequests: Type.Integer({ description: 'NCMD Node Control/Rebirth sent' }),
  rebirthsHeldBack: Type.Integer({
    description:
      'rebirth requests not sent: one went to that node less than rebirthMinInterval ago, or all nodes reached rebirthsPerSecond',
  }),
  aliasesDropped: Type.Integer({ description: 'BIRTH aliases beyond mqtt.sparkplug.maxAliases, not kept' }),
  newNodesHeldBack: Type.Integer({
    description: 'messages of edge nodes not seen before, beyond maxNewNodesPerMinute: decoded without session state (aliases refused)',
  }),
};

/** The Sparkplug host's protocol counters (all zero when Sparkplug is off). */
export function sparkplugReport(host: SparkplugHost | null): StageReport<typeof sparkplugFields> {
  const zero = noCounters();
  return stageReport({
    section: 'sparkplug',
    fields: sparkplugFields,
    read: () => ({
      enabled: host !== null,
      nodes: host?.nodes ?? 0,
      offlineMachines: host?.offlineMachines() ?? 0,
      ...(host?.counters ?? zero),
    }),
    metrics: [
      {
        name: 'vigil_sparkplug_rebirth_requests_total',
        help: 'Sparkplug rebirth requests (NCMD) sent to edge nodes',
        type: 'counter',
        read: () => (host ? host.counters.rebirthRequests : null),
      },
      {
        name: 'vigil_sparkplug_seq_gaps_total',
        help: 'Sparkplug seq gaps seen',
        type: 'counter',
        read: () => (host ? host.counters.seqGaps : null),
      },
      {
        name: 'vigil_sparkplug_offline_machines',
        help: 'machines offline by Sparkplug DEATH',
        type: 'gauge',
        read: () => (host ? host.offlineMachines() : null),
      },
    ],
  });
}
