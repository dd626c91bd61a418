import type { StoreConfig } from './config.js';
import { InfluxSensorStore } from './influx-store.js';
import type { SensorStore } from '../core/sensor-store.js';
import { SqliteSensorStore } from './sqlite-store.js';
import { SqliteWorkerStore } from './sqlite-worker-store.js';

/**
 * The configured sensor store; each process (daemon, training worker, CLI) opens its own. `thread`:
 * SQLite in a thread of its own, for the daemon, whose event loop must never wait on the database.
 */
export function createSensorStore(config: Pick<{ store: StoreConfig }, 'store'>, o: { thread?: boolean } = {}): SensorStore {
  if (config.store.kind === 'influx') {
    const i = config.store.influx;
    return new InfluxSensorStore({
      url: i.url,
      database: i.database,
      username: i.username,
      password: i.password,
      retentionPolicy: i.retentionPolicy,
      timeoutMs: i.timeout,
    });
  }
  if (o.thread) return new SqliteWorkerStore(config.store.sqlite.path, { busyTimeoutMs: config.store.sqlite.busyTimeout });
  return new SqliteSensorStore(config.store.sqlite.path, { busyTimeoutMs: config.store.sqlite.busyTimeout });
}
