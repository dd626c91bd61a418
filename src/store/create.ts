import type { VigilConfig } from '../config/schema.js';
import { InfluxSensorStore } from './influx-store.js';
import type { SensorStore } from './sensor-store.js';
import { SqliteSensorStore } from './sqlite-store.js';

/** The configured sensor store; each process (daemon, training worker, CLI) opens its own. */
export function createSensorStore(config: VigilConfig): SensorStore {
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
  return new SqliteSensorStore(config.store.sqlite.path);
}
