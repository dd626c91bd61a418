import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { runCli, CLI } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';
import { countInfluxReadings, influxQuery, waitUntil } from '../support/influx.js';

const FD001 = path.resolve('../shared/data/cmapss/train_FD001.txt');

let running: Daemon | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

describe('simulators through a real broker', () => {
  it('replays C-MAPSS FD001 through Mosquitto into InfluxDB: every reading and the 100 failures', async () => {
    const influxUrl = inject('influxUrl');
    const database = `replay_${Date.now()}`;
    const { daemon } = await startTestDaemon({
      mqtt: { url: inject('mqttUrl') },
      store: { kind: 'influx', influx: { url: influxUrl, database } },
    });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');

    const r = await runCli(['replay', FD001, '--broker', inject('mqttUrl'), '--speed', 'max', '--qos', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/replayed 20731 messages \(515775 readings, 100 events\)/);
    expect(r.stderr).toMatch(/20731 acknowledged, 0 failed; 0 rejected rows/);

    // 24 columns and the cycle count per row.
    const rows = readFileSync(FD001, 'utf8').trim().split('\n').length;
    expect(rows).toBe(20631);
    await waitUntil(async () => (await countInfluxReadings(influxUrl, database)) >= rows * 25, 60_000, 'every reading in InfluxDB');
    await waitUntil(() => daemon.status().store.eventsStored >= 100, 10_000, 'failure events');
    expect(await countInfluxReadings(influxUrl, database)).toBe(rows * 25);
    const failures = await daemon.stages.store.queryEvents({ types: ['failure'] });
    expect(failures).toHaveLength(100);
    expect(new Set(failures.map((f) => f.machine.machine)).size).toBe(100);
    const machines = await influxQuery(influxUrl, database, 'SHOW TAG VALUES FROM telemetry WITH KEY = "machine"');
    expect(machines[0]?.values).toHaveLength(100);
    expect(daemon.status().ingest.rejectedByReason).toEqual({});
  });

  it('history replayed into a live daemon is backfill: stored and countable for training, but no stale alerts and no missed failures', async () => {
    const { daemon } = await startTestDaemon({ alerts: { staleAfter: '1s', sensorStaleAfter: '1s' } });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');
    const start = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const r = await runCli(['replay', FD001, '--broker', daemon.mqttUrl, '--speed', 'max', '--qos', '1', '--start', start]);
    expect(r.status, r.stderr).toBe(0);
    await waitUntil(() => daemon.status().store.eventsStored >= 100 && daemon.status().journal.depth === 0, 60_000, 'history stored');
    // Long after the last replayed reading arrived: nothing is stale, nothing was missed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    daemon.stages.alerts.engine.checkQuality();
    const s = daemon.status();
    expect(daemon.stages.alerts.store.unresolved()).toEqual([]);
    expect(s.alerts.quality).toMatchObject({ missedFailures: 0, truePositives: 0, recall: null });
    expect(s.alerts.backfillFailures).toBe(100);
    expect(s.ingest.backfillReadings).toBe(20631 * 25);
    expect((await daemon.stages.store.queryEvents({ types: ['failure'] })).length).toBe(100);
  });

  it('a seeded simulation through the embedded broker lands whole, failures matching the ground truth', async () => {
    const { daemon } = await startTestDaemon();
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');
    const truthFile = path.join(tempDir(), 'truth.json');
    const r = await runCli([
      'simulate',
      '--scenario',
      'simulators/scenarios/fast-failures.yaml',
      '--duration',
      '4d',
      '--speed',
      'max',
      '--broker',
      daemon.mqttUrl,
      '--truth',
      truthFile,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const m = /(\d+) messages, (\d+) readings, (\d+) events, (\d+) failures/.exec(r.stderr)!;
    const [messages, readings, events, failures] = m.slice(1).map(Number) as [number, number, number, number];
    expect(failures).toBeGreaterThan(3);
    await waitUntil(
      () => daemon.status().store.readingsStored >= readings && daemon.status().store.eventsStored >= events,
      60_000,
      'all stored',
    );
    const status = daemon.status();
    expect(status.ingest.messagesAccepted).toBe(messages);
    expect(status.store.readingsStored).toBe(readings);
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as {
      failures: Array<{ machine: string; failureTs: number; component: string }>;
    };
    const stored = await daemon.stages.store.queryEvents({ types: ['failure'] });
    expect(stored.map((e) => [e.machine.machine, e.ts, e.component]).sort()).toEqual(
      truth.failures.map((f) => [f.machine, f.failureTs, f.component]).sort(),
    );
  });

  it('replay --strict stops at a bad row with exit 2 and names file and line', () => {
    const file = path.join(tempDir(), 'train_FD009.txt');
    const good = readFileSync(FD001, 'utf8').split('\n').slice(0, 3);
    writeFileSync(file, [...good, '1 4 garbage', ''].join('\n'));
    const strict = spawnSync(process.execPath, [CLI, 'replay', file, '--strict', '--dry-run'], { encoding: 'utf8' });
    expect(strict.status).toBe(2);
    expect(strict.stderr).toContain(`${file}:4: expected 26 columns`);
    const lenient = spawnSync(process.execPath, [CLI, 'replay', file, '--dry-run'], { encoding: 'utf8' });
    expect(lenient.status).toBe(0);
    expect(lenient.stdout.trim().split('\n')).toHaveLength(3 + 1);
    expect(lenient.stderr).toMatch(/1 rejected rows\n\s+.*:4: expected 26 columns/);
  });
});
