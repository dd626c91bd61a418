import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { startTestDaemon } from '../support/daemon.js';
import { waitUntil } from '../support/influx.js';

const TOKEN = 'page-operator-token-123456';
const SHOTS = path.resolve('test-artifacts/screenshots');
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let daemon: Daemon | null = null;
let browser: Browser | null = null;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ daemon } = await startTestDaemon({
    api: { anonymousRead: true, tokens: [{ name: 'shift-lead', role: 'operator', sha256: hashToken(TOKEN) }] },
    // Out-of-range alerts make a live alert without waiting for a model.
    alerts: {
      ranges: [
        { sensor: 'bearing_temp_c', max: 1000 },
        { sensor: 'page_probe', max: 10 },
      ],
      checkInterval: '200ms',
    },
    // A member of a federation whose coordinator has not spoken yet: the panel says so.
    federation: {
      enabled: true,
      id: 'page-plant',
      client: 'page-gw',
      key: 'page-federation-key-0123456789abcdef',
      broker: { url: inject('mqttUrl') },
    },
  }));
  await waitUntil(() => daemon!.readiness().ready, 15_000, 'daemon ready');
  const scenario = resolveScenario(loadScenarioFile('simulators/scenarios/fast-failures.yaml'), 'fast-failures');
  const sink = await MqttSink.connect(daemon!.mqttUrl, { qos: 1 });
  await runSimulation(
    { ...scenario, durationMs: 4 * 86_400_000, startMs: Date.now() - 5 * 86_400_000 },
    { sink, speed: 'max', now: Date.now() },
  );
  await sink.close();
  await waitUntil(() => daemon!.status().journal.depth === 0 && daemon!.status().store.readingsStored > 0, 30_000, 'data stored');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
});

describe('status page in Chromium', () => {
  it('lists the fleet, draws a machine, shows an alert live, and acknowledging it in the page changes it in the API', async () => {
    const d = daemon!;
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${d.httpUrl}/`);
    await page.waitForSelector('[data-machine="pump-01"]');
    expect(await page.locator('.card[data-machine]').count()).toBe(6);
    // Each card names the machine's kind: here inferred from its sensors.
    expect(await page.locator('[data-machine="pump-01"] [data-kind]').textContent()).toMatch(/^auto-[0-9a-f]{8}$/);
    await page.screenshot({ path: path.join(SHOTS, 'fleet.png'), fullPage: true });

    // A machine that failed during the simulation: its view lists the failure.
    const failed = (await d.stages.store.queryEvents({ types: ['failure'] }))[0]!.machine.machine;
    await page.click(`[data-machine="${failed}"]`);
    await page.waitForSelector('#m-sensors canvas');
    // One plot per sensor of the pump.
    expect(await page.locator('#m-sensors [data-sensor] canvas').count()).toBeGreaterThan(5);
    // The simulated failures and repairs of this pump are listed.
    await page.waitForSelector('#m-events tr[data-event="failure"]');
    await page.screenshot({ path: path.join(SHOTS, 'machine.png'), fullPage: true });

    await page.click('a[data-nav="alerts"]');
    await page.waitForSelector('#a-live:has-text("live")');
    // A reading far out of range arrives over MQTT while the page is open.
    const probe = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    await probe.publish('vigil/demo/demo/press-9/telemetry', JSON.stringify({ ts: Date.now(), values: { page_probe: 99 } }));
    await probe.close();
    const row = page.locator('tr[data-alert]', { hasText: 'press-9' });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.getAttribute('data-state')).toBe('open');
    await page.screenshot({ path: path.join(SHOTS, 'alert-live.png'), fullPage: true });

    // Without a token the button explains itself; with the operator token it acknowledges.
    await row.locator('button[data-act="ack"]').click();
    await page.waitForSelector('#banner:has-text("operator token")');
    await page.fill('#token', TOKEN);
    await page.click('#token-form button');
    await page.click('a[data-nav="alerts"]');
    const again = page.locator('tr[data-alert]', { hasText: 'press-9' });
    await again.locator('button[data-act="ack"]').click();
    await page.waitForSelector('tr[data-alert][data-state="acknowledged"]:has-text("press-9")');
    const id = Number(await again.getAttribute('data-alert'));
    const api = (await (await fetch(`${d.httpUrl}/api/v1/alerts/${id}`)).json()) as { state: string; acknowledged: { by: string } };
    expect(api).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'shift-lead' } });

    await page.click('a[data-nav="gateway"]');
    await page.waitForSelector('#g-body h2:has-text("Ingest")');
    // Machine kinds (pumps, motors, gearboxes, the probe), none with a model yet, each saying so.
    await page.waitForSelector('#g-body tr[data-kind]');
    expect(await page.locator('#g-body tr[data-kind]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#g-body tr[data-kind]').first().textContent()).toMatch(/no model: no model of this kind trained yet/);
    await page.waitForSelector('#g-body [data-federation="on"]:has-text("page-plant")');
    expect(await page.locator('#g-body [data-federation]').textContent()).toMatch(/page-gw.*connected.*No federation plan received yet/s);
    await page.screenshot({ path: path.join(SHOTS, 'gateway.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 90_000);
});
