/**
 * The catalogue of coded errors. Codes are stable: logs, API error bodies and operators' runbooks
 * refer to them, so a code is never reused for another meaning.
 */
export const ERROR_CATALOGUE = {
  VGL_CONFIG_INVALID: 'configuration is invalid',
  VGL_CONFIG_UNREADABLE: 'configuration file cannot be read or parsed',
  VGL_STORE_UNAVAILABLE: 'sensor store is unreachable',
  VGL_STORE_QUERY: 'sensor store query failed',
  VGL_JOURNAL_IO: 'journal file could not be read or written',
  VGL_JOURNAL_CORRUPT: 'journal record is corrupt',
  VGL_MQTT: 'MQTT connection failed',
  VGL_BROKER: 'embedded broker failed',
  VGL_SHUTDOWN_TIMEOUT: 'shutdown did not finish in time',
  VGL_NOT_FOUND: 'resource not found',
  VGL_BAD_REQUEST: 'request is invalid',
  VGL_UNAUTHORIZED: 'a valid bearer token is required',
  VGL_FORBIDDEN: 'the token lacks the role this needs',
  VGL_CONFLICT: 'the resource is not in a state that allows this',
  VGL_PAYLOAD_TOO_LARGE: 'request body is too large',
  VGL_HEADERS_TOO_LARGE: 'request headers are too large',
  VGL_URI_TOO_LONG: 'a path parameter is too long',
  VGL_UNSUPPORTED_MEDIA_TYPE: 'request body must be JSON',
  VGL_RATE_LIMITED: 'too many write requests; retry later',
  VGL_BUSY: 'too many expensive reads under way; retry after the time in Retry-After',
  VGL_TRAINING_BUSY: 'a training run is already in progress',
  VGL_MODEL: 'model registry operation failed',
  VGL_STATE_DAMAGED: "Vigil's state database is damaged",
  VGL_INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: unknown }) {
    super(message ?? ERROR_CATALOGUE[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.details = options?.details;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
