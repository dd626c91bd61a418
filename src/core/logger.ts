import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values never reach a log line, wherever they sit in the object, when the caller gives
 * none: the names secrets go by. The daemon passes the names its config schema marks secret.
 */
const DEFAULT_REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'secret',
  '*.secret',
  '*.key',
  '*.*.key',
];

export function createLogger(options: {
  level: string;
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
  /** pino redaction paths: values there are written as [redacted]. */
  redact?: readonly string[];
}): Logger {
  return pino(
    {
      level: options.level,
      base: { app: 'vigil' },
      redact: { paths: [...(options.redact ?? DEFAULT_REDACT)], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? pino.destination({ dest: 1, sync: false })) as pino.DestinationStream,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
