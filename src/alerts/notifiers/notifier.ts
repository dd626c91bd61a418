import type { AlertEvent } from '../types.js';

/** One outbox channel. `deliver` resolves once the receiver has taken the event, rejects otherwise. */
export interface Notifier {
  readonly channel: string;
  deliver(event: AlertEvent, deliveryId: number): Promise<void>;
}
