import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, wherever they sit in the object. */
const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'secret',
  '*.secret',
  '*.*.secret',
  '*.key',
  '*.*.key',
];

export function createLogger(options: { level: string; pretty?: boolean; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { app: 'vigil' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? pino.destination({ dest: 1, sync: false })) as pino.DestinationStream,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
