/**
 * The daemon killed with SIGKILL in the middle of a training run (its worker dies with it): after a
 * restart nothing is half-written in the registry, the run is recorded as interrupted, every reading
 * is still there, and the scheduler trains again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib/services.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { tempDir } from '../support/fixtures.js';
import { waitForReady, waitUntil } from '../support/influx.js';

const CLI = path.resolve('dist/src/cli.js');

interface Run {
  id: number;
  state: string;
  progress: { phase?: string } | null;
}

describe('daemon killed during a training run', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('leaves the registry whole, records the run as interrupted, keeps the data, and trains again', async () => {
    const dir = tempDir('vigil-chaos-train-');
    const http = await freePort();
    const mqtt = await freePort();
    const modelsDir = path.join(dir, 'models');
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        log: { level: 'warn' },
        http: { port: http },
        mqtt: { embedded: { port: mqtt, allowAnonymous: true } },
        // Many epochs, so the run is surely in the middle of training when it is killed.
        learning: {
          modelsDir,
          step: '10m',
          window: 12,
          horizon: 12,
          rulCap: 48,
          stride: 2,
          maxGapSteps: 3,
          model: { units: [16, 8], epochs: 500, patience: 500 },
        },
        schedule: { enabled: true, cron: '* * * * * *', need: { minFailures: 2 }, idle: { maxCpu: 1, maxLoadPerCore: 1000 } },
        // The run killed here is the failure model's: no health model may be scheduled before it.
        health: { enabled: false },
      }),
    );
    const start = async () => {
      const child = spawn(process.execPath, [CLI, 'start', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await waitForReady(http);
      return child;
    };
    const api = async <T>(p: string) => (await (await fetch(`http://127.0.0.1:${http}${p}`)).json()) as T;

    const first = await start();
    const scenario = resolveScenario(loadScenarioFile('simulators/scenarios/fast-failures.yaml'), 'fast-failures');
    const sink = await MqttSink.connect(`mqtt://127.0.0.1:${mqtt}`, { qos: 1 });
    const sim = await runSimulation(
      { ...scenario, durationMs: 5 * 86_400_000, startMs: Date.now() - 6 * 86_400_000 },
      { sink, speed: 'max', now: Date.now() },
    );
    await sink.close();
    expect(sim.failures).toBeGreaterThanOrEqual(2);
    await waitUntil(
      async () => (await api<{ store: { readingsStored: number } }>('/api/v1/status')).store.readingsStored >= sim.readings,
      30_000,
      'simulation stored',
    );
    const readings = () => {
      const db = new Database(path.join(dir, 'data', 'sensors.db'), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const stored = readings();
    expect(stored).toBe(sim.readings);
    const machinesBefore = (await api<{ items: unknown[] }>('/api/v1/machines')).items.length;

    let running: Run | undefined;
    await waitUntil(
      async () => {
        running = (await api<{ items: Run[] }>('/api/v1/training/runs')).items.find(
          (r) => r.state === 'running' && r.progress?.phase === 'training',
        );
        return running !== undefined;
      },
      60_000,
      'a scheduled run in its training phase',
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    await start();
    const runs = (await api<{ items: Run[] }>('/api/v1/training/runs')).items;
    expect(runs.find((r) => r.id === running!.id)?.state).toBe('interrupted');
    // No version was written, and nothing half-written was left behind.
    expect(readdirSync(modelsDir).filter((f) => f !== 'registry.json')).toEqual([]);
    expect(readings()).toBe(stored);
    expect((await api<{ items: unknown[] }>('/api/v1/machines')).items.length).toBe(machinesBefore);
    // The need is still there: the scheduler starts a new run.
    await waitUntil(
      async () => (await api<{ items: Run[] }>('/api/v1/training/runs')).items.some((r) => r.id > running!.id && r.state === 'running'),
      30_000,
      'a new run after the restart',
    );
  });
});
