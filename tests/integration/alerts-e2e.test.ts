import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { signature } from '../../src/alerts/notifiers/webhook.js';
import { demoConfig } from '../../src/commands/demo.js';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { freePort } from '../../bench/lib/services.js';
import { startTestDaemon } from '../support/daemon.js';
import { tempDir } from '../support/fixtures.js';
import { waitUntil } from '../support/influx.js';

const SECRET = 'e2e-webhook-secret-0123';
const DAY = 86_400_000;

interface Hook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let daemon: Daemon | null = null;
let server: Server | null = null;
afterAll(async () => {
  await daemon?.stop();
  server?.close();
});

describe('end to end: simulated fleet → Mosquitto → daemon → alerts', () => {
  it('opens a failure-risk alert before a simulated failure, delivers it signed to a webhook and on MQTT, and the failure resolves it as a true positive', async () => {
    const hooks: Hook[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/vigil`;

    const base = demoConfig({ dataDir: tempDir('vigil-e2e-'), httpPort: await freePort(), mqttPort: await freePort() }) as Record<
      string,
      Record<string, unknown>
    >;
    const mqttUrl = inject('mqttUrl');
    ({ daemon } = await startTestDaemon({
      ...base,
      log: { level: 'silent' },
      // One kind for the whole fleet (by configuration): this test is about alerts, and two machines of
      // each kind would give a kind's first model too few validation failures in six days.
      machines: [{ match: '*', kind: 'fleet' }],
      mqtt: { url: mqttUrl },
      learning: { ...base.learning, modelsDir: tempDir('vigil-e2e-models-') },
      schedule: { enabled: false },
      scoring: { interval: '250ms' },
      alerts: { risk: { openAfter: 2, closeAfter: 4 } },
      notify: { webhooks: [{ name: 'ops', url: hookUrl, secret: SECRET }], retryInitial: '200ms' },
    }));
    const d = daemon!;
    await waitUntil(() => d.readiness().ready, 15_000, 'daemon ready');

    // Retained alert state and gateway status on the real broker.
    const watcher = await mqtt.connectAsync(mqttUrl, { clientId: `e2e-watch-${Date.now()}` });
    const retained = new Map<string, string>();
    watcher.on('message', (topic, payload) => retained.set(topic, payload.toString()));
    await watcher.subscribeAsync(['vigil/+/+/+/alerts', 'vigil/_gateway/status'], { qos: 1 });

    const scenario = resolveScenario(loadScenarioFile('simulators/scenarios/fast-failures.yaml'), 'fast-failures');
    const now = Date.now();
    // History for the first model: six days at full speed, then one training run from the store.
    const history = await publish({ ...scenario, seed: 7, durationMs: 6 * DAY, startMs: now - 14 * DAY }, 'max', mqttUrl);
    expect(history.failures).toBeGreaterThan(4);
    await waitUntil(() => d.status().store.eventsStored >= history.events && d.status().journal.depth === 0, 60_000, 'history stored');
    const run = d.stages.training.trigger({ trigger: 'cli' });
    await waitUntil(() => d.stages.training.get(run.id)!.state !== 'running', 240_000, 'first model trained', 1000);
    expect(d.stages.training.get(run.id)).toMatchObject({ state: 'succeeded', promoted: true, version: 'v0001' });
    await waitUntil(() => d.status().scoring.champion === 'v0001', 10_000, 'champion loaded for scoring');

    // Live: a fresh fleet in fast time; alerts must come before failures.
    const live = await publish({ ...scenario, seed: 11, durationMs: 6 * DAY, startMs: now - 7 * DAY }, 6000, mqttUrl);
    expect(live.failures).toBeGreaterThan(4);
    await waitUntil(() => d.status().alerts.quality.truePositives >= 1, 20_000, 'a failure announced by an alert');
    const tp = d.stages.alerts.store
      .list({ kind: 'failure_risk', state: 'resolved', limit: 100 })
      .find((a) => a.outcome === 'true_positive')!;
    expect(tp.resolved?.resolution).toBe('failure');
    expect(tp.leadMs).toBeGreaterThan(0);
    expect(tp.details.topSensors).toHaveLength(3);

    // The webhook got "opened" and "resolved" for it, each correctly signed.
    await waitUntil(() => hooks.filter((h) => JSON.parse(h.body).alert.id === tp.id).length >= 2, 10_000, 'webhook deliveries');
    const mine = hooks.filter((h) => JSON.parse(h.body).alert.id === tp.id);
    expect(mine.map((h) => JSON.parse(h.body).type)).toEqual(expect.arrayContaining(['opened', 'resolved']));
    for (const h of mine) expect(h.headers['x-vigil-signature']).toBe(signature(SECRET, String(h.headers['x-vigil-timestamp']), h.body));
    expect(d.status().alerts.deliveries.dead).toBe(0);
    expect(JSON.parse(retained.get('vigil/_gateway/status') ?? '{}').state).toBe('online');
    expect([...retained.keys()].some((t) => /^vigil\/demo\/demo\/[a-z]+-\d+\/alerts$/.test(t))).toBe(true);
    const q = d.status().alerts.quality;
    expect(q.truePositives + q.missedFailures).toBeGreaterThanOrEqual(1);
    await watcher.endAsync();
  });
});

async function publish(scenario: ReturnType<typeof resolveScenario>, speed: number | 'max', url: string) {
  const sink = await MqttSink.connect(url, { qos: 1, clientId: `e2e-fleet-${Math.random().toString(36).slice(2, 8)}` });
  try {
    return await runSimulation(scenario, { sink, speed, now: Date.now(), truthFile: path.join(tempDir(), 'truth.json') });
  } finally {
    await sink.close();
  }
}
