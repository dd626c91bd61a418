import type { StoreConfig } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { backoffDelay } from '../core/backoff.js';
import { errorMessage } from '../core/errors.js';
import type { SensorStore } from '../core/sensor-store.js';
import { createSensorStore } from './create.js';

/**
 * The sensor store, opened in a thread of its own (SQLite) or as an InfluxDB client. Not fatal when
 * it cannot be opened: the journal holds everything and the writer retries. Until it opens,
 * readiness says why, and it is tried again with backoff.
 */
export async function buildStore(config: { store: StoreConfig }, life: Lifecycle): Promise<SensorStore> {
  const { clock, log } = life;
  const store = createSensorStore(config, { thread: true });
  let openError: string | null = null;
  let retry: ReturnType<typeof clock.setTimeout> = undefined;
  let failures = 0;
  const open = async (): Promise<void> => {
    try {
      await store.open();
      if (openError) log.info({ store: config.store.kind }, 'sensor store opened');
      openError = null;
      failures = 0;
    } catch (err) {
      if (openError === null)
        log.error({ err, store: config.store.kind }, 'sensor store cannot be opened; buffering in the journal and trying again');
      openError = errorMessage(err);
      retry = clock.setTimeout(() => void open(), backoffDelay(++failures, { initialMs: 1000, maxMs: 60_000 }));
      if (typeof retry === 'object') retry.unref?.();
    }
  };
  life.release('store', async () => {
    clock.clearTimeout(retry);
    await store.close();
  });
  await open();
  life.report({
    section: null,
    fields: {},
    read: () => ({}),
    notReady: () => (openError ? [`sensor store cannot be opened: ${openError}`] : []),
  });
  return store;
}
