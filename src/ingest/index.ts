/**
 * Ingest as later stages see it: the link (the daemon's one MQTT connection), the pipeline's builder
 * and config, the decoder the API tests payloads with, the dead-letter log and the report fields.
 */
export { createMqttPassword } from './broker-auth.js';
export { buildDecoder, buildIngest, buildLink, type IngestStage, type LinkStage } from './build.js';
export { checkMqtt, type IngestConfig, IngestSchema, type MqttConfig, MqttSchema, resolveIngest, resolveMqtt } from './config.js';
export { SqliteDeadLetterLog, type StoredDeadLetter } from './dead-letter-log.js';
export { deadLetterSchema } from './dead-letter-schema.js';
export type { MessageDecoder } from './decoder.js';
export { FleetCap } from './fleet-cap.js';
export type { MqttLink } from './mqtt-link.js';
export { brokerFields, ingestFields } from './report.js';
export { sparkplugFields } from './sparkplug/report.js';
export { IngestStats } from './stats.js';
