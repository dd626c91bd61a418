import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import { Duration, strict, SecretString } from '../config/schema-parts.js';

export const StoreSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('sqlite'), Type.Literal('influx')], {
      default: 'sqlite',
      description: 'the embedded SQLite store, or InfluxDB 1.x (VIGIL_INFLUX_URL selects it)',
    }),
    sqlite: Type.Object(
      {
        path: Type.Optional(Type.String({ minLength: 1, description: 'relative to dataDir; default sensors.db' })),
        busyTimeout: Duration('1s', {
          minimum: 1,
          description: "how long a write waits for another process's lock on the database before the writer backs off and retries",
        }),
      },
      strict,
    ),
    influx: Type.Object(
      {
        url: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:8086' }),
        database: Type.String({ minLength: 1, default: 'vigil', description: 'created if missing; measurements telemetry and events' }),
        username: Type.Optional(Type.String()),
        password: Type.Optional(SecretString()),
        retentionPolicy: Type.Optional(Type.String({ minLength: 1 })),
        timeout: Duration('10s', { minimum: 1 }),
      },
      strict,
    ),
  },
  { ...strict, description: 'where readings and events are stored: SQLite in the data directory, or InfluxDB 1.x' },
);

export type StoreConfig = StaticDecode<typeof StoreSchema> & {
  sqlite: StaticDecode<typeof StoreSchema>['sqlite'] & { path: string };
};

/** The SQLite file relative to the data directory (`sensors.db` there by default). */
export function resolveStore(s: StaticDecode<typeof StoreSchema>, dataDir: string): StoreConfig {
  return { ...s, sqlite: { ...s.sqlite, path: path.resolve(dataDir, s.sqlite.path ?? 'sensors.db') } };
}
