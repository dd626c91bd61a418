/**
 * The HTTP API as the composition root and the command line see it: its builder and config, the
 * status model the daemon fills, and the token helper `vigil token` uses.
 */
export { createToken } from './auth.js';
export { buildHttp, reportedStatus } from './build.js';
export { type ApiConfig, ApiSchema, type HttpConfig, HttpSchema, resolveApi } from './config.js';
export type { Readiness, Status, StatusSource } from './status-model.js';
