import { inject } from 'vitest';
import { InfluxSensorStore } from '../../src/store/influx-store.js';
import { sensorStoreContract } from '../support/store-contract.js';

// Each test gets a database of its own on the shared real InfluxDB.
sensorStoreContract(
  'influx',
  () =>
    new InfluxSensorStore({
      url: inject('influxUrl'),
      database: `contract_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`,
      timeoutMs: 5000,
    }),
);
