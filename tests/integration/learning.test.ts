import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { evaluateCmapssTest } from '../../bench/lib/cmapss.js';
import type { Daemon } from '../../src/main.js';
import { loadTf, quietTfWarnings } from '../../src/model/backend.js';
import { memberCount } from '../../src/model/ensemble.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { startTestDaemon } from '../support/daemon.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';
import { waitUntil } from '../support/influx.js';

const DATA = path.resolve('../shared/data/cmapss');

let running: Daemon | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

const learning = (modelsDir: string) => ({
  modelsDir,
  backend: 'wasm',
  step: '1m',
  window: 50,
  stride: 5,
  horizon: 30,
  rulCap: 125,
  // Two members: the ensemble path end to end, at a fraction of the default's five.
  model: { units: [16, 8], epochs: 6, batchSize: 128, patience: 3, members: 2 },
});

describe('learning from the store', () => {
  it('FD001 replayed through MQTT, `vigil train` from the store: the champion beats "always no failure" on the test protocol', async () => {
    const dir = tempDir('vigil-learn-');
    const modelsDir = path.join(dir, 'models');
    const { daemon, config } = await startTestDaemon({ mqtt: { url: inject('mqttUrl') }, learning: learning(modelsDir) });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');
    const replay = await runCli(['replay', path.join(DATA, 'train_FD001.txt'), '--broker', inject('mqttUrl'), '--speed', 'max']);
    expect(replay.status, replay.stderr).toBe(0);
    await waitUntil(
      () => daemon.status().store.eventsStored === 100 && daemon.status().store.readingsStored === 20631 * 25,
      60_000,
      'FD001 in the store',
    );

    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(file, JSON.stringify({ dataDir: config.dataDir, log: { level: 'warn' }, learning: learning(modelsDir) }));
    const train = await runCli(['train', '-c', file]);
    expect(train.status, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/v0001 \(auto-[0-9a-f]{8}\): PR-AUC .*\npromoted to champion: first model of auto-[0-9a-f]{8}/);
    expect(train.stderr).toMatch(/member 1\/2, epoch 1\/6/);
    expect(train.stderr).toMatch(/member 2\/2, epoch 1\/6/);

    quietTfWarnings();
    const { tf } = await loadTf('wasm');
    const registry = new ModelRegistry(modelsDir);
    const meta = registry.failureMeta(registry.championVersion()!);
    expect(meta.machines.validation).toHaveLength(20);
    expect(meta.sensors).not.toContain('s1'); // constant in FD001
    expect(meta.sensors).toContain('cycle'); // published by the replay like any counter
    expect(meta.architecture.members).toBe(2);
    expect(meta.training.members?.map((m) => m.seed)).toEqual([meta.training.seed, meta.training.seed + 1000]);
    // Trained with the fused kernels (16 and 8 units are multiples of 4), and saved as stock tfjs LSTMs.
    expect(meta.training.lstmKernel).toMatch(/^(native \((avx512|avx2|neon|scalar)|wasm \((relaxed-simd|simd)), \d+ threads?\)$/);
    const model = await registry.load(tf, meta.version);
    expect(memberCount(model)).toBe(2);
    const test = evaluateCmapssTest(tf, model, meta.normalisation, path.join(DATA, 'test_FD001.txt'), path.join(DATA, 'RUL_FD001.txt'), {
      window: 50,
      horizon: 30,
      rulCap: 125,
      threshold: meta.threshold,
    });
    expect(test.binaryEngines).toBe(93);
    expect(test.classification.positives).toBe(25);
    // "Always no failure" scores 0.731 here; a model that learned anything real clears it well.
    expect(test.classification.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(test.classification.f1).toBeGreaterThan(0.6);
    expect(test.rul.rmse).toBeLessThan(40);

    // A second run fine-tunes the champion and is judged against it on the same held-out data.
    const again = await runCli(['train', '-c', file, '--epochs', '2']);
    expect(again.status, again.stderr).toBe(0);
    const second = registry.failureMeta('v0002');
    expect(second.warmStartedFrom).toBe('v0001');
    expect(second.metrics.championOnSameData?.version).toBe('v0001');
    expect(second.decision.reason).toMatch(/champion v0001/);

    // The running daemon reports the champion the CLI trained.
    expect(daemon.status().model).toMatchObject({ champion: registry.championVersion(), versions: 2, trainedOn: 'wasm' });

    const list = await runCli(['models', 'list', '-c', file]);
    expect(list.stdout).toMatch(/v0001/);
    expect(list.stdout).toMatch(/v0002/);

    // Cancelled mid-epoch: the worker stops, nothing is saved.
    const { TrainingRun } = (await import(path.resolve('dist/src/training/runner.js'))) as typeof import('../../src/training/runner.js');
    const { loadConfig } = await import('../../src/vigil-config.js');
    const cancelled = new TrainingRun(loadConfig({ file, env: {} }), { epochs: 50 });
    cancelled.on('progress', (p: { phase: string }) => {
      if (p.phase === 'batch') cancelled.cancel();
    });
    expect((await cancelled.result).state).toBe('cancelled');
    expect(registry.versions()).toEqual(['v0001', 'v0002']);
  });

  it('a training worker that crashes leaves the caller running; an empty store is a clear failure', async () => {
    const { TrainingRun } = (await import(path.resolve('dist/src/training/runner.js'))) as typeof import('../../src/training/runner.js');
    const { validateConfig } = await import('../../src/vigil-config.js');
    const dir = tempDir('vigil-crash-');
    const config = validateConfig({ dataDir: dir, learning: learning(path.join(dir, 'models')) }, { cwd: dir, origin: 'test' });
    // Too little memory for tfjs: the worker dies (ERR_WORKER_OUT_OF_MEMORY), this process does not.
    const crash = new TrainingRun(config, { resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 } });
    const outcome = await crash.result;
    expect(outcome.state).toBe('failed');
    expect(outcome.error).toMatch(/worker/);
    // An empty store is a clear failure, not a crash.
    const empty = await new TrainingRun(config).result;
    expect(empty).toMatchObject({ state: 'failed', error: expect.stringMatching(/NotEnoughDataError: no failure events/) });
    expect(readdirSync(path.join(dir, 'models')).filter((f) => f.startsWith('v'))).toEqual([]);
  });

  it('a process killed while saving a model never damages the champion or leaves a half-written version', async () => {
    const dir = tempDir('vigil-save-kill-');
    const script = `
      import { loadTf, quietTfWarnings } from ${JSON.stringify(path.resolve('dist/src/model/backend.js'))};
      import { buildLstm } from ${JSON.stringify(path.resolve('dist/src/model/lstm.js'))};
      import { ModelRegistry } from ${JSON.stringify(path.resolve('dist/src/registry/registry.js'))};
      quietTfWarnings();
      const { tf } = await loadTf('cpu');
      const reg = new ModelRegistry(${JSON.stringify(dir)});
      const meta = JSON.parse(process.argv[1]);
      for (;;) {
        const version = reg.nextVersion();
        await reg.save(tf, buildLstm(tf, { windowSteps: 50, features: 20, units: [64, 32], dropout: 0, learningRate: 0.01, seed: 1, recurrentActivation: 'sigmoid' }), { ...meta, version });
        if (version === 'v0001') { reg.promote(version, 'first'); process.stdout.write('champion\\n'); }
      }`;
    const { ModelRegistry: Registry } = await import('../../src/registry/registry.js');
    const meta = {
      createdAt: new Date(0).toISOString(),
      parent: null,
      warmStartedFrom: null,
      decision: { promoted: true, reason: 'x' },
      dataRange: { from: 0, to: 1 },
      machines: { train: 1, validation: [], splitMethod: 'by-time' },
      sensors: ['a'],
      dropped: [],
      stepMs: 1,
      window: 50,
      horizon: 1,
      rulCap: 1,
      normalisation: { sensors: ['a'], mean: [0], std: [1], dropped: [] },
      architecture: { units: [64, 32], dropout: 0, recurrentActivation: 'sigmoid', learningRate: 0.01, batchSize: 1 },
      threshold: 0.5,
      metrics: {
        validation: {
          classification: { threshold: 0.5, accuracy: 1, precision: 1, recall: 1, f1: 1, prAuc: 1, rocAuc: 1, positives: 1, n: 1 },
          rul: { rmse: 0, mae: 0, score: 0, n: 1 },
        },
        leadTime: { detected: 0, missed: 0, meanLeadMs: null },
        championOnSameData: null,
      },
      training: {
        backend: 'cpu',
        provider: 'cpu',
        durationMs: 1,
        epochs: 1,
        bestEpoch: 1,
        samplesPerSecond: 1,
        seed: 1,
        stoppedEarly: false,
      },
      data: {},
    };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(meta)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 700 + Math.random() * 500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    quietTfWarnings();
    const { tf } = await loadTf('cpu');
    const registry = new Registry(dir);
    expect(registry.championVersion()).toBe('v0001');
    expect(registry.versions().length).toBeGreaterThanOrEqual(1);
    // Every version that made it into place is complete and loads.
    for (const v of registry.versions()) await expect(registry.load(tf, v)).resolves.toBeTruthy();
  });
});
