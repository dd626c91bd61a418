import { createHmac } from 'node:crypto';
import type { AlertEvent } from '../types.js';
import type { Notifier } from './notifier.js';

export const SIGNATURE_HEADER = 'x-vigil-signature';
export const TIMESTAMP_HEADER = 'x-vigil-timestamp';

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. Signing the timestamp with the body lets a
 * receiver refuse replays of an old, validly signed request.
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookNotifier implements Notifier {
  readonly channel: string;

  constructor(
    private readonly o: { name: string; url: string; secret: string; timeoutMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.channel = `webhook:${o.name}`;
  }

  async deliver(event: AlertEvent, deliveryId: number): Promise<void> {
    const body = JSON.stringify({ id: event.id, type: event.type, at: new Date(event.at).toISOString(), alert: event.alert });
    const timestamp = String(Math.floor(this.now() / 1000));
    const res = await fetch(this.o.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'vigil-webhook',
        'x-vigil-event': event.type,
        // Receivers deduplicate on this: a retry after a lost response carries the same id.
        'x-vigil-delivery': String(deliveryId),
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signature(this.o.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.o.timeoutMs),
      redirect: 'error',
    });
    // Drain so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status} from ${new URL(this.o.url).host}`);
  }
}
