import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureDebianPackages, startInfluxd, startMosquitto, type ManagedService } from '../../bench/lib/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
    mqttUrl: string;
  }
}

let influx: ManagedService | undefined;
let mosquitto: ManagedService | undefined;

/** One shared InfluxDB and Mosquitto for the integration tests; tests that stop a service start their own. */
export async function setup(project: TestProject): Promise<void> {
  ensureDebianPackages();
  [influx, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()]);
  project.provide('influxUrl', influx.url);
  project.provide('mqttUrl', mosquitto.url);
}

export async function teardown(): Promise<void> {
  await Promise.all([influx?.dispose(), mosquitto?.dispose()]);
}
