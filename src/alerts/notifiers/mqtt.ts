import type { Alert, AlertEvent } from '../types.js';
import type { Notifier } from './notifier.js';

export interface MqttPublisher {
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
}

/** Fills `{site}`, `{line}`, `{machine}` of a topic pattern. */
export function alertTopic(pattern: string, alert: Alert): string {
  return pattern.replace('{site}', alert.machine.site).replace('{line}', alert.machine.line).replace('{machine}', alert.machine.machine);
}

/**
 * Publishes a machine's current unresolved alerts, retained, to its alert topic on every change: a
 * dashboard or PLC that subscribes later gets the present state at once, and an empty list clears it.
 */
export class MqttAlertNotifier implements Notifier {
  readonly channel = 'mqtt';

  constructor(
    private readonly publisher: MqttPublisher,
    private readonly topicPattern: string,
    private readonly unresolvedOf: (machine: string) => Alert[],
  ) {}

  async deliver(event: AlertEvent): Promise<void> {
    const open = this.unresolvedOf(event.alert.machine.machine);
    const payload = JSON.stringify({
      machine: event.alert.machine,
      at: new Date(event.at).toISOString(),
      lastEvent: { id: event.id, type: event.type, alertId: event.alert.id, kind: event.alert.kind },
      alerts: open.map((a) => ({
        id: a.id,
        kind: a.kind,
        subject: a.subject,
        severity: a.severity,
        state: a.state,
        message: a.message,
        openedAt: new Date(a.openedAt).toISOString(),
      })),
    });
    await this.publisher.publish(alertTopic(this.topicPattern, event.alert), payload, { qos: 1, retain: true });
  }
}
