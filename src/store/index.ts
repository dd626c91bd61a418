/**
 * The sensor store as later stages see it: its builder, config and the factory that opens one.
 */
export { buildStore } from './build.js';
export { resolveStore, type StoreConfig, StoreSchema } from './config.js';
export { createSensorStore } from './create.js';
