import type { Logger } from './core/logger.js';

/**
 * SIGTERM/SIGINT stop the daemon gracefully within `timeoutMs`; a second signal, or the timeout,
 * exits at once (nothing acknowledged is lost: it is in the journal).
 */
export function installSignalHandlers(stop: () => Promise<void>, log: Logger, timeoutMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      log.error({ code: 'VGL_SHUTDOWN_TIMEOUT', timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs + 2000);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
