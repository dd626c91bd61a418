/**
 * The alerts stage as other stages and the composition root see it: its builder and config, the
 * alert and event types the API serves, the store's errors, and the report fields.
 */
export { AlertNotFoundError, AlertStateError, type AlertStore } from './alert-store.js';
export { type AlertStage, buildAlerts } from './build.js';
export { type AlertsConfig, AlertsSchema, checkAlerts, type NotifyConfig, NotifySchema } from './config.js';
export { type AlertEngine, AlertVerdictError } from './engine.js';
export { escalationFields } from './escalation.js';
export { alertFields, AlertQualitySchema, qualityIngestFields, qualityJson } from './report.js';
export { alertSchema } from './schema.js';
export { type Alert, ALERT_KINDS, ALERT_STATES, type AlertEvent } from './types.js';
