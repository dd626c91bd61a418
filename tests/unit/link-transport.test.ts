/**
 * The federation on Vigil's own MQTT link (its broker is the one Vigil ingests from): one
 * connection, messages routed by topic, publishes acknowledged by the broker.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { LinkFederationTransport } from '../../src/federation/transport.js';
import { MqttLink } from '../../src/ingest/mqtt-link.js';
import { testBroker, until } from '../support/subscriber.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('federation transport on the MQTT link', () => {
  it('routes the federation topics to the federation, publishes with acknowledgement, and stops routing when asked', async () => {
    const broker = await testBroker();
    cleanup.push(() => broker.stop());
    const link = new MqttLink(
      {
        url: broker.url,
        clientId: 'vigil-test-self',
        ...broker.selfCredentials,
        tls: { rejectUnauthorized: true },
        qos: 1,
        keepalive: 30,
        reconnectMinMs: 50,
        reconnectMaxMs: 200,
      },
      systemClock,
      silentLogger(),
    );
    const ingested: string[] = [];
    link.route('vigil/+/+/+/telemetry', (topic) => void ingested.push(topic));
    link.start();
    cleanup.push(() => link.stop());
    const transport = new LinkFederationTransport(link);
    const plans: string[] = [];
    const off = await transport.subscribe('vigil/_federation/plant/+/plan', (_t, payload) => void plans.push(payload.toString()));
    await until(() => link.stats.subscribed && transport.connected, 'link subscribed');

    const other = await mqtt.connectAsync(broker.url, { clientId: 'coordinator' });
    cleanup.push(() => other.endAsync(true));
    const updates: string[] = [];
    other.on('message', (_t, p) => updates.push(p.toString()));
    await other.subscribeAsync('vigil/_federation/plant/pump/update/+', { qos: 1 });
    await other.publishAsync('vigil/_federation/plant/pump/plan', 'plan-1', { qos: 1, retain: true });
    await other.publishAsync('vigil/p/l/m1/telemetry', '{}', { qos: 1 });
    await until(() => plans.length === 1 && ingested.length === 1, 'plan and telemetry routed');
    expect(plans).toEqual(['plan-1']);
    expect(ingested).toEqual(['vigil/p/l/m1/telemetry']);

    await transport.publish('vigil/_federation/plant/pump/update/gw-a', Buffer.from('update-1'), { retain: false });
    await until(() => updates.length === 1, 'update delivered');

    off();
    await other.publishAsync('vigil/_federation/plant/pump/plan', 'plan-2', { qos: 1, retain: true });
    await other.publishAsync('vigil/p/l/m1/telemetry', '{}', { qos: 1 });
    await until(() => ingested.length === 2, 'telemetry still routed');
    expect(plans).toEqual(['plan-1']);
  });
});
