import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import type { Daemon } from '../../src/main.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { loadTf, quietTfWarnings } from '../../src/model/backend.js';
import { buildHealthLstm } from '../../src/model/health-lstm.js';
import { buildLstm } from '../../src/model/lstm.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { startTestDaemon } from '../support/daemon.js';
import { tempDir } from '../support/fixtures.js';
import { waitUntil } from '../support/influx.js';
import { testHealthMeta, testMeta } from '../support/model-meta.js';

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
const MIN = 60_000;
const CHART_NORM = { sensors: ['a', 'b', 'c'], mean: [20, 0, 5], std: [2, 1, 1], dropped: [] };

/** A champion for kind `chart` (an untrained LSTM: the page test needs real scores, not good ones). */
async function chartChampion(dir: string): Promise<void> {
  quietTfWarnings();
  const { tf } = await loadTf('cpu');
  const registry = new ModelRegistry(dir);
  const model = buildLstm(tf, {
    windowSteps: 6,
    features: 3,
    units: [5, 4],
    dropout: 0,
    learningRate: 0.01,
    recurrentActivation: 'sigmoid',
    seed: 3,
  });
  await registry.save(
    tf,
    model,
    testMeta('v0001', {
      kind: 'chart',
      stepMs: MIN,
      window: 6,
      rulCap: 100,
      normalisation: CHART_NORM,
      sensors: CHART_NORM.sensors,
      threshold: 0.5,
    }),
  );
  registry.promote('v0001', 'page test');
  // And a health model of the kind (untrained too): the card's health line and the machine's health plot.
  const health = buildHealthLstm(tf, { windowSteps: 6, features: 3, sensors: 3, units: [4, 4], dropout: 0, learningRate: 0.01, seed: 5 });
  await registry.save(
    tf,
    health,
    testHealthMeta('v0002', { kind: 'chart', stepMs: MIN, window: 6, normalisation: CHART_NORM, sensors: CHART_NORM.sensors }),
  );
  registry.promote('v0002', 'page test');
}

/** chart-1: up to four hours of readings with a failure and its repair in them, then a live trickle that gets scored. */
async function chartMachine(d: Daemon): Promise<void> {
  const sink = await MqttSink.connect(d.mqttUrl, { qos: 1 });
  const topic = 'vigil/demo/charts/chart-1';
  const now = Date.now();
  const t0 = now - 240 * MIN;
  const reading = (ts: number, i: number) =>
    JSON.stringify({ ts, values: { a: 20 + Math.sin(i / 9), b: Math.cos(i / 7), c: 5 + (i % 5) / 10 } });
  for (let i = 0; i < 170; i++) await sink.publish(`${topic}/telemetry`, reading(t0 + i * MIN, i));
  await sink.publish(`${topic}/events`, JSON.stringify({ ts: t0 + 60 * MIN, type: 'failure', component: 'bearing' }));
  await sink.publish(`${topic}/events`, JSON.stringify({ ts: t0 + 70 * MIN, type: 'repair', component: 'bearing' }));
  // Then one by one, each window scored as it completes, until a few scores are in (the first waits for the model to load).
  const scored = () =>
    Math.min(
      d.stages.scoring.service.history('chart-1', -Infinity, Infinity, 100).length,
      d.stages.scoring.service.healthHistory('chart-1', -Infinity, Infinity, 100).length,
    );
  for (let i = 170; i < 240 && scored() < 3; i++) {
    await sink.publish(`${topic}/telemetry`, reading(t0 + i * MIN, i));
    await new Promise((r) => setTimeout(r, 150));
  }
  await sink.close();
  await waitUntil(() => scored() >= 2, 30_000, 'chart-1 scored by both roles');
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const modelsDir = tempDir('vigil-page-models-');
  await chartChampion(modelsDir);
  ({ daemon } = await startTestDaemon({
    machines: [{ match: 'chart-*', kind: 'chart' }],
    learning: { modelsDir, step: '1m', window: 6 },
    scoring: { interval: '50ms' },
    sensors: { units: { a: '°C' } },
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
  await chartMachine(daemon!);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
});

describe('status page in Chromium', () => {
  it('lists the fleet, draws a machine, shows an alert live, and acknowledging it in the page changes it in the API', async () => {
    const d = daemon!;
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${d.httpUrl}/`);
    await page.waitForSelector('[data-machine="pump-01"]');
    expect(await page.locator('.card[data-machine]').count()).toBe(7);
    // Each card names the machine's kind: here inferred from its sensors.
    expect(await page.locator('[data-machine="pump-01"] [data-kind]').textContent()).toMatch(/^auto-[0-9a-f]{8}$/);
    // A machine whose kind has a health model shows its index on the card; one whose kind has none says why.
    const card = page.locator('[data-machine="chart-1"] [data-health]');
    expect(Number(await card.getAttribute('data-health'))).toBeGreaterThanOrEqual(0);
    expect(await card.textContent()).toMatch(/^health \d+ \/ alert below 40/);
    expect(await page.locator('[data-machine="pump-01"] .health-none').textContent()).toMatch(/^health: /);
    await page.screenshot({ path: path.join(SHOTS, 'fleet.png'), fullPage: true });

    // A machine that failed during the simulation: its view lists the failure.
    const failed = (await d.stages.store.queryEvents({ types: ['failure'] }))[0]!.machine.machine;
    await page.click(`[data-machine="${failed}"]`);
    await page.waitForSelector('#m-sensors canvas');
    // One plot per sensor of the pump.
    expect(await page.locator('#m-sensors [data-sensor] canvas').count()).toBeGreaterThan(5);
    // The simulated failures and repairs of this pump are listed.
    await page.waitForSelector('#m-events tr[data-event="failure"]');
    await page.screenshot({ path: path.join(SHOTS, 'machine-failed.png'), fullPage: true });

    // A scored machine: risk and sensors on one time axis, the threshold, the failure and repair marked on every plot.
    await page.goto(`${d.httpUrl}/#/machine/chart-1`);
    await page.waitForSelector('#m-risk canvas');
    await page.waitForSelector('#m-health canvas');
    await page.waitForSelector('#m-sensors [data-sensor="c"] canvas');
    // The default range tells the story since the last repair.
    expect(await page.locator('#m-range').inputValue()).toBe('since last repair');
    const axes = await page.$$eval('#m-timeline [data-x-min]', (els) =>
      els.map((e) => `${e.getAttribute('data-x-min')}–${e.getAttribute('data-x-max')}`),
    );
    // Risk, health and the three sensors.
    expect(axes).toHaveLength(5);
    expect(new Set(axes).size).toBe(1);
    const widths = await page.$$eval('#m-timeline .u-over', (els) =>
      els.map((e) => Math.round(e.getBoundingClientRect().left) + ':' + Math.round(e.getBoundingClientRect().width)),
    );
    expect(new Set(widths).size).toBe(1);
    expect(await page.locator('#m-risk').getAttribute('data-threshold')).toBe('0.5');
    expect(await page.locator('#m-risk .u-legend').textContent()).toMatch(/alert threshold 50%/);
    // The health index with its threshold, and under "Why" the sensors departing from normal (or that none does).
    expect(await page.locator('#m-health').getAttribute('data-threshold')).toBe('40');
    expect(await page.locator('#m-health .u-legend').textContent()).toMatch(/health index.*anomaly alert below 40/);
    expect(await page.locator('#m-deviations').textContent()).toMatch(/departs from normal by|within two standard deviations/);
    for (const plot of ['#m-risk', '#m-health', '#m-sensors [data-sensor="a"]', '#m-sensors [data-sensor="c"]']) {
      expect(await page.locator(`${plot} .marker[data-marker="failure"]`).count(), plot).toBe(1);
      expect(await page.locator(`${plot} .marker[data-marker="repair"]`).count(), plot).toBe(1);
    }
    expect(await page.locator('#m-sensors [data-sensor="a"]').getAttribute('data-unit')).toBe('°C');
    // The alerts table sits on its own row, every column visible.
    expect(await page.locator('#m-alerts').evaluate((e) => e.getBoundingClientRect().width)).toBeGreaterThan(1000);
    await page.screenshot({ path: path.join(SHOTS, 'machine-1400.png'), fullPage: true });

    await page.click('a[data-nav="alerts"]');
    await page.waitForSelector('#a-live:has-text("live")');
    // A reading far out of range arrives over MQTT while the page is open.
    const probe = await MqttSink.connect(d.mqttUrl, { qos: 1 });
    await probe.publish('vigil/demo/demo/press-9/telemetry', JSON.stringify({ ts: Date.now(), values: { page_probe: 99 } }));
    await probe.close();
    const row = page.locator('tr[data-alert]', { hasText: 'press-9' });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.getAttribute('data-state')).toBe('open');
    // Anonymous: the page says what token Acknowledge needs and how to get one.
    expect(await page.locator('#a-token-hint').textContent()).toMatch(
      /operator token.*vigil token create --name <you> --role operator.*api\.tokens/,
    );
    await page.screenshot({ path: path.join(SHOTS, 'alert-live.png'), fullPage: true });

    // Without a token the button explains itself; with the operator token it acknowledges.
    await row.locator('button[data-act="ack"]').click();
    await page.waitForSelector('#banner:has-text("vigil token create")');
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
    // Each kind says what its next run learns with: here the global settings.
    expect(await page.locator('#g-body tr[data-kind] [data-recipe]').first().textContent()).toMatch(
      /^step 1m · window 6 · horizon 30 · RUL cap 125 · LSTM \d+(\/\d+)*global settings$/,
    );
    await page.waitForSelector('#g-body [data-federation="on"]:has-text("page-plant")');
    expect(await page.locator('#g-body [data-federation]').textContent()).toMatch(/page-gw.*connected.*No federation plan received yet/s);
    await page.screenshot({ path: path.join(SHOTS, 'gateway.png'), fullPage: true });
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/ui/favicon.svg');
    expect((await fetch(`${d.httpUrl}/ui/favicon.svg`)).headers.get('content-type')).toMatch(/image\/svg\+xml/);
    expect(errors).toEqual([]);
  }, 90_000);

  it('each view at 1400 and 800 px: screenshots, and no sideways scroll', async () => {
    const d = daemon!;
    for (const width of [1400, 800]) {
      const page = await browser!.newPage({ viewport: { width, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      for (const [name, hash, ready] of [
        ['fleet', '#/', '[data-machine="chart-1"]'],
        ['machine', '#/machine/chart-1', '#m-sensors [data-sensor="c"] canvas'],
        ['alerts', '#/alerts', 'tr[data-alert]'],
        ['gateway', '#/gateway', '#g-body tr[data-kind]'],
      ] as const) {
        await page.goto(`${d.httpUrl}/${hash}`);
        await page.waitForSelector(ready);
        const overflow = await page.$eval('html', (e) => e.scrollWidth - e.clientWidth);
        expect(overflow, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
      }
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 60_000);
});
