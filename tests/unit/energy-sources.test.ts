import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { EnergyAccountant } from '../../src/scheduler/energy/accountant.js';
import { GpuMeter, RaplMeter, counterDelta } from '../../src/scheduler/energy/meters.js';
import { assessNeed } from '../../src/scheduler/training-need.js';
import { CarbonDataError, FileCarbonSource, parseCarbonCsv, parseCarbonJson } from '../../src/scheduler/sources/carbon.js';
import { PlantBusySignal, onBattery, parseNvidiaSmi } from '../../src/scheduler/sources/host.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { openVigilState } from '../../src/state.js';
import { M1, tempDir } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';

const fixture = (name: string) => readFileSync(path.resolve('tests/fixtures/energy', name), 'utf8');

function fakeRapl(zones: Array<{ name: string; energy: number | null; max: number }>): string {
  const root = tempDir('vigil-rapl-');
  for (const z of zones) {
    mkdirSync(path.join(root, z.name), { recursive: true });
    writeFileSync(path.join(root, z.name, 'max_energy_range_uj'), `${z.max}\n`);
    if (z.energy !== null) writeFileSync(path.join(root, z.name, 'energy_uj'), `${z.energy}\n`);
  }
  return root;
}

describe('energy meters', () => {
  it('takes counter wrap-around into account', () => {
    expect(counterDelta(100, 350, 1000)).toBe(250);
    expect(counterDelta(900, 50, 1000)).toBe(150);
  });

  it('reads RAPL packages (not their sub-zones), handles wrap-around, and is unavailable when unreadable', () => {
    const root = fakeRapl([
      { name: 'intel-rapl:0', energy: 262_143_000_000, max: 262_143_328_850 },
      { name: 'intel-rapl:1', energy: 5_000_000, max: 262_143_328_850 },
      { name: 'intel-rapl:0:0', energy: 1, max: 10 },
    ]);
    const rapl = new RaplMeter(root);
    expect(rapl.available).toBe(true);
    const before = rapl.read();
    expect(before).toHaveLength(2);
    writeFileSync(path.join(root, 'intel-rapl:0', 'energy_uj'), '1000000\n'); // wrapped
    writeFileSync(path.join(root, 'intel-rapl:1', 'energy_uj'), '35000000\n');
    // (262_143_328_850 − 262_143_000_000 + 1_000_000) µJ + 30_000_000 µJ
    expect(rapl.joules(before, rapl.read())).toBeCloseTo(1.32885 + 30, 4);
    expect(new RaplMeter(fakeRapl([{ name: 'intel-rapl:0', energy: null, max: 100 }])).available).toBe(false);
    expect(new RaplMeter('/nonexistent').available).toBe(false);
  });

  it('parses nvidia-smi samples: energy counters, power only, nothing supported', () => {
    expect(parseNvidiaSmi(fixture('nvidia-smi-a100.txt'))).toEqual([
      { utilisation: 0, powerW: 87.41, totalEnergyMj: 98342513875 },
      { utilisation: 35, powerW: 212.6, totalEnergyMj: 102873355006 },
    ]);
    expect(parseNvidiaSmi(fixture('nvidia-smi-t4.txt'))).toEqual([{ utilisation: 12, powerW: 27.55, totalEnergyMj: null }]);
    expect(parseNvidiaSmi(fixture('nvidia-smi-jetson.txt'))).toEqual([{ utilisation: null, powerW: null, totalEnergyMj: null }]);
    const a = parseNvidiaSmi(fixture('nvidia-smi-a100.txt'));
    const b = a.map((g) => ({ ...g, totalEnergyMj: g.totalEnergyMj! + 500_000 }));
    expect(GpuMeter.energyJoules(a, b)).toBe(1000);
    expect(GpuMeter.energyJoules(parseNvidiaSmi(fixture('nvidia-smi-t4.txt')), parseNvidiaSmi(fixture('nvidia-smi-t4.txt')))).toBeNull();
    expect(
      GpuMeter.integratePower([
        [0, 100],
        [2000, 100],
        [4000, 200],
      ]),
    ).toBe(500);
  });

  it('accounts a run: CPU estimate without RAPL, GPU by its counter, carbon and price over the run, avoided emissions against the due time', async () => {
    const db = openVigilState(':memory:');
    db.prepare("INSERT INTO training_runs (id, trigger, state, started_at) VALUES (7, 'schedule', 'running', 0)").run();
    const clock = new ManualClock();
    let energy = 1_000_000;
    const acc = new EnergyAccountant(db, clock, silentLogger(), {
      wattsPerCore: 10,
      raplDir: '/nonexistent',
      gpu: 'auto',
      fallbackIntensity: 400,
      carbon: async () => [
        { ts: 0, durationMs: 3_600_000, value: 300 },
        { ts: 3_600_000, durationMs: 3_600_000, value: 100 },
      ],
      price: () => [{ ts: 0, durationMs: 7_200_000, value: 0.2 }],
      dueSince: () => 0,
      gpuQuery: async () => [{ utilisation: 90, powerW: 200, totalEnergyMj: (energy += 3_600_000_000) }],
    });
    expect(acc.cpuMethod).toBe('cpu-estimate');
    acc.runStarted(7);
    await new Promise((r) => setImmediate(r));
    const rec = (await acc.runFinished(7, 3_600_000, 5_400_000, { state: 'succeeded', epochs: 4, epochCap: 10, warmStartedFrom: null }))!;
    // Six epochs not run, at this run's energy per epoch.
    expect(rec.detail.earlyStoppingSavedJoules).toBeCloseTo((rec.joules / 4) * 6);
    expect(rec.method).toBe('cpu-estimate+nvml-energy');
    expect(rec.detail.gpuJoules).toBe(3_600_000);
    expect(rec.kWh).toBeGreaterThanOrEqual(1);
    expect(rec.intensity).toBe(100);
    // Due at 0: the same 30 minutes then would have run at 300 g/kWh.
    expect(rec.baselineIntensity).toBe(300);
    expect(rec.avoidedGCO2e).toBeCloseTo(rec.kWh * 200);
    expect(rec.cost).toBeCloseTo(rec.kWh * 0.2);
    expect(acc.list(10)[0]).toMatchObject({ runId: 7, method: 'cpu-estimate+nvml-energy' });
    expect(acc.usedKWhSince(0)).toBeCloseTo(rec.kWh);
  });
});

describe('carbon intensity inputs', () => {
  it('reads the ENTSO-E derived CSV traces', async () => {
    const series = await new FileCarbonSource(path.resolve('../shared/data/carbon/ger_ci.csv')).series();
    expect(series.length).toBeGreaterThan(30_000);
    expect(series[0]).toMatchObject({ ts: Date.parse('2019-12-20T00:00:00Z'), durationMs: 15 * 60_000 });
  });

  it('reads Carbon Aware SDK forecasts and {timestamp, value} lists', () => {
    const sdk = [
      {
        location: 'de',
        forecastData: [
          { timestamp: '2026-01-05T10:00:00Z', duration: 30, value: 211.5 },
          { timestamp: '2026-01-05T10:30:00Z', duration: 30, value: 190 },
        ],
      },
    ];
    expect(parseCarbonJson(sdk, 'sdk')).toEqual([
      { ts: Date.parse('2026-01-05T10:00:00Z'), durationMs: 1_800_000, value: 211.5 },
      { ts: Date.parse('2026-01-05T10:30:00Z'), durationMs: 1_800_000, value: 190 },
    ]);
    const list = {
      data: [
        { point_time: '2026-01-05T11:00:00Z', value: 300 },
        { point_time: '2026-01-05T10:00:00Z', value: 250 },
      ],
    };
    expect(parseCarbonJson(list, 'wt').map((p) => p.value)).toEqual([250, 300]);
    expect(parseCarbonJson([{ datetime: '2026-01-05T10:00:00Z', carbonIntensity: 120 }], 'em')[0]!.durationMs).toBe(3_600_000);
  });

  it.each([
    ['no header', 'x\n', /header and at least one row/],
    ['unknown columns', 'when,how much\n2020-01-01 00:00:00,5\n', /needs a time column/],
    ['a bad value', 'Time,Carbon Intensity\n2020-01-01 00:00:00,lots\n', /line 2: bad time or value/],
    ['a negative value', 'Time,Carbon Intensity\n2020-01-01 00:00:00,-4\n', /line 2/],
  ])('refuses CSV with %s, saying where', (_n, text, msg) => {
    expect(() => parseCarbonCsv(text, 'f.csv')).toThrow(CarbonDataError);
    expect(() => parseCarbonCsv(text, 'f.csv')).toThrow(msg);
  });

  it('refuses JSON that is no series', () => {
    expect(() => parseCarbonJson({ nothing: 1 }, 'x')).toThrow(/expected a list of points/);
    expect(() => parseCarbonJson([{ timestamp: 'soon', value: 3 }], 'x')).toThrow(/point 0: bad time or value/);
  });
});

describe('host and plant signals', () => {
  it('knows when the gateway runs on battery or UPS', () => {
    const root = tempDir('vigil-psu-');
    const supply = (name: string, files: Record<string, string>) => {
      mkdirSync(path.join(root, name), { recursive: true });
      for (const [f, v] of Object.entries(files)) writeFileSync(path.join(root, name, f), `${v}\n`);
    };
    supply('AC', { type: 'Mains', online: '1' });
    supply('BAT0', { type: 'Battery', status: 'Charging' });
    expect(onBattery(root)).toBe(false);
    supply('AC', { type: 'Mains', online: '0' });
    expect(onBattery(root)).toBe(true);
    supply('AC', { type: 'Mains', online: '1' });
    supply('BAT0', { type: 'Battery', status: 'Discharging' });
    expect(onBattery(root)).toBe(true);
    expect(onBattery('/nonexistent')).toBe(false);
  });

  it('reads the plant busy flag in several spellings, counts nonsense, forgets it after its TTL', () => {
    const s = new PlantBusySignal(60_000);
    expect(s.busy(0)).toBeNull();
    s.update('1', 0);
    expect(s.busy(1000)).toBe(true);
    s.update('{"busy": false}', 2000);
    expect(s.busy(3000)).toBe(false);
    s.update('idle', 4000);
    s.update('maybe', 5000);
    expect(s.invalid).toBe(1);
    expect(s.busy(70_000)).toBeNull();
  });
});

describe('why train', () => {
  const opts = {
    minFailures: 2,
    minNewFailures: 1,
    minIntervalMs: 3_600_000,
    driftThreshold: 0.5,
    driftWindowMs: 86_400_000,
    maxModelAgeMs: 30 * 86_400_000,
    lookbackMs: 90 * 86_400_000,
  };
  const norm = { sensors: ['t'], mean: [50], std: [2], dropped: [] };

  it('first model after enough failures; new failures; drift; staleness forces; nothing new skips', async () => {
    const store = new SqliteSensorStore(path.join(tempDir(), 's.db'));
    await store.open();
    const now = Date.UTC(2026, 0, 10);
    const fail = (ts: number) => store.write({ samples: [], events: [{ machine: M1, ts, type: 'failure' }] });
    await fail(now - 5 * 86_400_000);
    expect((await assessNeed(store, { now, lastRun: null, champion: null }, opts)).reason).toBeNull();
    await fail(now - 4 * 86_400_000);
    expect((await assessNeed(store, { now, lastRun: null, champion: null }, opts)).reason).toMatch(/2 labelled failures and no model yet/);
    // A run on these two failures promoted nothing: no rerun on the same data until minInterval.
    const refused = { startedAt: now - 60_000, failuresLabelled: 2 };
    expect((await assessNeed(store, { now, lastRun: refused, champion: null }, opts)).reason).toBeNull();
    expect((await assessNeed(store, { now: now + 3_600_000, lastRun: refused, champion: null }, opts)).reason).toMatch(/no model yet/);

    const champion = { createdAt: now - 86_400_000, normalisation: norm };
    const lastRun = { startedAt: now - 2 * 3_600_000, failuresLabelled: 2 };
    await store.write({
      samples: Array.from({ length: 20 }, (_, i) => ({ machine: M1, ts: now - 3_600_000 + i * 1000, values: { t: 50.4 } })),
      events: [],
    });
    expect(await assessNeed(store, { now, lastRun, champion }, opts)).toMatchObject({
      reason: null,
      drift: { sensor: 't', sigmas: expect.closeTo(0.2, 5) },
    });
    expect(
      (await assessNeed(store, { now, lastRun: { ...lastRun, startedAt: now - 60_000 }, champion }, { ...opts, minNewFailures: 0 })).reason,
    ).toBeNull();
    await fail(now - 1000);
    expect((await assessNeed(store, { now, lastRun, champion }, opts)).reason).toBe('1 new failure since the last run');
    // Within minInterval the new failure is held back, and the reason says so (not "no new failures").
    const held = await assessNeed(store, { now, lastRun: { ...lastRun, startedAt: now - 60_000 }, champion }, opts);
    expect(held.reason).toBeNull();
    expect(held.heldBack).toBe(`minInterval holds back 1 new failure until ${new Date(now - 60_000 + 3_600_000).toISOString()}`);
    await store.write({
      samples: Array.from({ length: 20 }, (_, i) => ({ machine: M1, ts: now - 1800_000 + i * 1000, values: { t: 53 } })),
      events: [],
    });
    const drifted = await assessNeed(store, { now, lastRun: { ...lastRun, failuresLabelled: 3 }, champion }, opts);
    expect(drifted.reason).toMatch(/recent t drifted 0\.\d+ training standard deviations/);
    const old = await assessNeed(store, { now, lastRun, champion: { ...champion, createdAt: now - 40 * 86_400_000 } }, opts);
    expect(old).toMatchObject({ forced: true, reason: expect.stringMatching(/40\.0 days old/) });
    await store.close();
  });
});

describe('carbon forecast over HTTP', () => {
  it('parses the Carbon Aware SDK answer, keeps the last good one when the endpoint fails, and names a bad answer', async () => {
    const { createServer } = await import('node:http');
    const { HttpCarbonSource } = await import('../../src/scheduler/sources/carbon.js');
    let body = JSON.stringify([{ forecastData: [{ timestamp: '2026-01-05T10:00:00Z', duration: 60, value: 222 }] }]);
    let status = 200;
    const server = createServer((_req, res) => ((res.statusCode = status), res.end(body)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/f`;
    try {
      const src = new HttpCarbonSource({ url, headers: {}, refreshMs: 1000, timeoutMs: 2000 });
      expect((await src.series(0))[0]).toMatchObject({ value: 222, durationMs: 3_600_000 });
      status = 500;
      expect((await src.series(5000))[0]!.value).toBe(222);
      const fresh = new HttpCarbonSource({ url, headers: {}, refreshMs: 1000, timeoutMs: 2000 });
      await expect(fresh.series(0)).rejects.toThrow(/HTTP 500/);
      status = 200;
      body = '<html>login</html>';
      await expect(fresh.series(0)).rejects.toThrow(/not JSON/);
    } finally {
      server.close();
    }
  });
});
