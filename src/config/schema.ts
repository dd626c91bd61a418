import { Type, type StaticDecode } from '@sinclair/typebox';
import { KIND_NAME } from '../core/kinds.js';
import { Duration, strict } from './schema-parts.js';

/**
 * The daemon-wide sections of the configuration, which no one stage owns: where its data lives,
 * machine kinds, sensor units, logging and shutdown. Every stage owns its own section(s) beside its
 * builder (`<stage>/config.ts`); the composition root puts them together (src/vigil-config.ts).
 */
export const DataDirSchema = Type.String({ minLength: 1, default: './data', description: 'state, journal and the embedded SQLite store' });

export const MachinesSchema = Type.Array(
  Type.Object(
    {
      match: Type.String({ minLength: 1, maxLength: 200, description: 'machine ids, as a glob: * any run of characters, ? one' }),
      kind: Type.String({
        pattern: KIND_NAME,
        description: "the kind those machines are (one model per kind); names starting 'auto-' are for inferred kinds",
      }),
    },
    strict,
  ),
  {
    default: [],
    maxItems: 1000,
    description: 'machine kinds by machine id, first match wins; a machine no pattern matches is of the kind its sensor set infers',
  },
);

export const SensorsSchema = Type.Object(
  {
    units: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ minLength: 1, maxLength: 32 }), {
      default: {},
      description: 'sensor → unit shown on the page\'s axes (e.g. {"T24": "°R"}); Sparkplug BIRTH units take over for their machines',
    }),
  },
  strict,
);

export const LogSchema = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  strict,
);

export const ShutdownSchema = Type.Object(
  {
    timeout: Duration('15s', { minimum: 1, description: 'how long stopping may take; what is not committed by then stays in the journal' }),
  },
  { ...strict, description: 'stopping on SIGTERM or SIGINT' },
);

export type MachinesConfig = StaticDecode<typeof MachinesSchema>;
export type SensorsConfig = StaticDecode<typeof SensorsSchema>;
export type LogConfig = StaticDecode<typeof LogSchema>;
