import type { Logger } from '../core/logger.js';
import type { MessageHandler } from './broker-intake.js';
import type { IngestPipeline } from './pipeline.js';

/**
 * Where one MQTT message goes, whichever way it came (Vigil's subscription, or the embedded
 * broker's intake): a plant signal (an exact topic another stage listens to, e.g. the plant's busy
 * flag) to its handler, anything else to the ingest pipeline.
 */
export function routeMessages(
  signals: Readonly<Record<string, (payload: string) => void>>,
  pipeline: IngestPipeline,
  log: Logger,
): MessageHandler {
  const bySignal = new Map(Object.entries(signals));
  return (topic, payload) => {
    const signal = bySignal.get(topic);
    if (!signal) return pipeline.handle(topic, payload);
    try {
      signal(payload.toString('utf8'));
    } catch (err) {
      log.warn({ err, topic }, 'signal handler failed');
    }
  };
}
