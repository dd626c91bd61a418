/**
 * Federated learning as the composition root, the API and the command line see it: the gateway's
 * builder and config, the coordinator, its transport and learner, and the federation view.
 */
export { buildFederation, coordinatorOptions } from './build.js';
export { checkFederation, type FederationConfig, FederationSchema, resolveFederation } from './config.js';
export { FederationCoordinator } from './coordinator.js';
export type { FederationGateway } from './gateway.js';
export { federationFields, federationView, type FederationView, FederationViewSchema } from './report.js';
export { MqttFederationTransport } from './transport.js';
export { WorkerLearner } from './worker-learner.js';
