import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import mqtt from 'mqtt';
import { validateConfig } from '../../src/vigil-config.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { FederationCoordinator } from '../../src/federation/coordinator.js';
import type { Daemon } from '../../src/main.js';
import type { Plan } from '../../src/federation/messages.js';
import { decodeFrame, encodeFrame } from '../../src/federation/wire.js';
import { freePort } from '../../bench/lib/services.js';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { CLI } from '../support/cli.js';
import { startTestDaemon } from '../support/daemon.js';
import { tempDir } from '../support/fixtures.js';
import { waitForReady, waitUntil } from '../support/influx.js';

const DAY = 86_400_000;
const KEY = 'integration-federation-key-0123456789';
const FEDERATION = `it-${Date.now().toString(36)}`;
const PREFIX = 'vigil/_federation';
// Small models on a coarse grid, as in the kinds test: three gateways train on two cores.
const LEARNING = {
  step: '10m',
  window: 24,
  stride: 2,
  horizon: 24,
  rulCap: 96,
  maxGapSteps: 3,
  validationFraction: 0.34,
  minValidationFailures: 1,
  model: { units: [16, 8], epochs: 4, patience: 2, members: 1, batchSize: 128 },
};

const MACHINES = [{ match: 'pump-*', kind: 'pump' }];
const daemons: Daemon[] = [];
const children: ChildProcess[] = [];
let coordinator: FederationCoordinator | null = null;
afterAll(async () => {
  await coordinator?.stop();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of daemons) await d.stop();
});

function federation(client: string) {
  return { enabled: true, id: FEDERATION, client, key: KEY, broker: { url: inject('mqttUrl') }, kinds: ['pump'] };
}

/** A few days of the demo's pumps at max speed into a gateway's own broker, with its own seed. */
async function simulate(mqttUrl: string, seed: number): Promise<number> {
  const base = resolveScenario(loadScenarioFile('simulators/scenarios/demo.yaml'), 'demo');
  const scenario = { ...base, seed, machines: base.machines.filter((g) => g.kind === 'pump') };
  const sink = await MqttSink.connect(mqttUrl, { qos: 1 });
  const sim = await runSimulation(
    { ...scenario, durationMs: 5 * DAY, startMs: Date.now() - 5 * DAY - 3_600_000 },
    { sink, speed: 'max', now: Date.now() },
  );
  await sink.close();
  return sim.events;
}

interface FederationView {
  participating: Array<{
    kind: string;
    round: number;
    last: string;
    updatesSent: number;
    adoption: { promoted: boolean; version: string | null } | null;
  }>;
  counters: { refused: Record<string, number> };
}
const view = async (httpUrl: string) => (await (await fetch(`${httpUrl}/api/v1/federation`)).json()) as FederationView;

describe('federated learning across three gateways over a real Mosquitto', () => {
  it('runs three rounds from each gateway’s own store, survives a gateway killed mid-round, refuses forgeries, and each adopts the federated model', async () => {
    // Gateways A and B in this process; C a daemon process of its own, so it can be killed outright.
    for (const [i, client] of ['gw-a', 'gw-b'].entries()) {
      const { daemon } = await startTestDaemon({
        ingest: { backfillAge: '3650d' },
        machines: MACHINES,
        learning: LEARNING,
        federation: federation(client),
      });
      daemons.push(daemon);
      const events = await simulate(daemon.mqttUrl, 11 + i);
      await waitUntil(
        () => daemon.status().store.eventsStored >= events && daemon.status().journal.depth === 0,
        60_000,
        `${client} stored`,
      );
    }
    const cDir = tempDir('vigil-fed-c-');
    const cHttp = await freePort();
    const cMqtt = await freePort();
    const cModels = path.join(cDir, 'models');
    const cConfig = path.join(cDir, 'vigil.yaml');
    writeFileSync(
      cConfig,
      JSON.stringify({
        dataDir: cDir,
        log: { level: 'warn' },
        http: { port: cHttp },
        schedule: { enabled: false },
        ingest: { backfillAge: '3650d' },
        machines: MACHINES,
        learning: { ...LEARNING, modelsDir: cModels },
        mqtt: { embedded: { port: cMqtt, allowAnonymous: true }, clientId: `vigil-fed-c-${FEDERATION}` },
        federation: federation('gw-c'),
      }),
    );
    const startC = async () => {
      const child = spawn(process.execPath, [CLI, 'start', '-c', cConfig], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await waitForReady(cHttp, 30_000);
      return child;
    };
    let c = await startC();
    const cEvents = await simulate(`mqtt://127.0.0.1:${cMqtt}`, 13);
    await waitUntil(
      async () => {
        const s = (await (await fetch(`${`http://127.0.0.1:${cHttp}`}/api/v1/status`)).json()) as {
          store: { eventsStored: number };
          journal: { depth: number };
        };
        return s.store.eventsStored >= cEvents && s.journal.depth === 0;
      },
      60_000,
      'gw-c stored',
    );

    // The coordinator: the daemon's own, from a config with the same learning settings.
    const { FederationCoordinator: Coordinator } = (await import(
      path.resolve('dist/src/federation/coordinator.js')
    )) as typeof import('../../src/federation/coordinator.js');
    const { coordinatorOptions } = (await import(
      path.resolve('dist/src/federation/build.js')
    )) as typeof import('../../src/federation/build.js');
    const { WorkerLearner } = (await import(
      path.resolve('dist/src/federation/worker-learner.js')
    )) as typeof import('../../src/federation/worker-learner.js');
    const { MqttFederationTransport } = (await import(
      path.resolve('dist/src/federation/transport.js')
    )) as typeof import('../../src/federation/transport.js');
    const config = validateConfig(
      {
        learning: LEARNING,
        federation: {
          ...federation('coordinator'),
          // Steps close as soon as all three answered; the round without C closes at its deadline.
          coordinator: {
            enabled: true,
            kinds: ['pump'],
            rounds: 3,
            minClients: 2,
            expectedClients: 3,
            statsWindow: '60s',
            roundWindow: '40s',
            localEpochs: 1,
          },
        },
      },
      { cwd: process.cwd(), origin: 'test' },
    );
    const learner = new WorkerLearner({
      config,
      client: 'coordinator',
      personalise: { enabled: false, epochs: 1 },
      wattsPerCore: 10,
      heapMb: 512,
      clock: systemClock,
      hold: () => () => undefined,
      onPromoted: () => undefined,
    });
    const transport = await MqttFederationTransport.connect({
      url: inject('mqttUrl'),
      clientId: `it-coordinator-${FEDERATION}`,
      maxMessageBytes: 16 << 20,
    });
    const co = new Coordinator(
      { ...coordinatorOptions(config, 'pump', learner), federation: FEDERATION },
      transport,
      systemClock,
      silentLogger(),
    );
    coordinator = co;
    await co.start();
    const a = daemons[0]!;
    await waitUntil(() => co.phase === 'round', 60_000, 'statistics of three gateways');
    expect(co.history[0]).toMatchObject({ outcome: 'statistics', clients: ['gw-a', 'gw-b', 'gw-c'] });

    // A forged update (signed with another key) and a forged plan reach the coordinator and the gateways.
    const forger = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `it-forger-${FEDERATION}` });
    const wrongKey = Buffer.from('not-the-federation-key-0123456789abcd');
    const forgedUpdate = encodeFrame(
      {
        type: 'update',
        federation: FEDERATION,
        kind: 'pump',
        session: co.session,
        client: 'gw-x',
        round: 1,
        samples: 1000,
        metrics: { trainLoss: 0, validationRmse: null, validationPrAuc: null, trainMs: 1, energyJ: 0 },
        norm: 1,
        clipped: false,
        noised: false,
      },
      new Float32Array(co.model()!.values.length).fill(1e6),
      wrongKey,
    );
    await forger.publishAsync(`${PREFIX}/${FEDERATION}/pump/update/gw-x`, forgedUpdate, { qos: 1 });
    // The current plan (retained), re-signed with the wrong key and with weights of its own.
    const planTopic = `${PREFIX}/${FEDERATION}/pump/plan`;
    const retained = new Promise<Buffer>((resolve) => forger.once('message', (_t, p: Buffer) => resolve(p)));
    await forger.subscribeAsync(planTopic, { qos: 1 });
    const plan = decodeFrame(await retained, Buffer.from(KEY), 16 << 20) as { header: Plan; body: Float32Array };
    await forger.unsubscribeAsync(planTopic);
    const forgedPlan = encodeFrame({ ...plan.header, issuedAt: plan.header.issuedAt + 1 }, plan.body.fill(0.5), wrongKey);
    await forger.publishAsync(planTopic, forgedPlan, { qos: 1 });
    await forger.endAsync();

    await waitUntil(() => co.history.some((r) => r.round === 1 && r.outcome === 'aggregated'), 120_000, 'round 1', 500);
    // Kill C while it trains round 2: the round closes at its deadline with A and B.
    await waitUntil(
      async () => (await view(`http://127.0.0.1:${cHttp}`)).participating[0]?.last === 'round 2: training locally',
      60_000,
      'C training round 2',
      50,
    );
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    await waitUntil(() => co.history.some((r) => r.round === 2 && r.outcome === 'aggregated'), 120_000, 'round 2 without C', 500);
    const round2 = co.history.find((r) => r.round === 2 && r.outcome === 'aggregated')!;
    expect(round2.clients).toEqual(['gw-a', 'gw-b']);
    expect(round2.stragglers).toEqual(['gw-c']);

    // C comes back on its persistent session: it takes part in round 3 and adopts the final model.
    c = await startC();
    const phase = await co.done;
    expect(phase).toBe('done');
    const rounds = co.history.filter((r) => r.outcome === 'aggregated');
    expect(rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(rounds[2]!.clients).toEqual(['gw-a', 'gw-b', 'gw-c']);
    expect(co.counters.refused['bad-signature']).toBe(1);
    expect(co.history[1]!.refused).toEqual([expect.objectContaining({ client: 'gw-x', reason: 'bad-signature' })]);
    expect(rounds.every((r) => r.bytesIn > 0 && r.metrics !== null)).toBe(true);

    // Each gateway judged the final model on its own held-out machines; each has it as champion now.
    const httpUrls = [...daemons.map((d) => d.httpUrl), `http://127.0.0.1:${cHttp}`];
    await waitUntil(
      async () =>
        (await Promise.all(httpUrls.map(view))).every(
          (v) => v.participating[0]?.adoption !== null && v.participating[0]?.adoption !== undefined,
        ),
      120_000,
      'every gateway judged the final model',
      500,
    );
    const modelsDirs = [...daemons.map((d) => d.config.learning.modelsDir), cModels];
    for (const [i, url] of httpUrls.entries()) {
      const v = await view(url);
      expect(v.participating[0]!.adoption, url).toMatchObject({ promoted: true });
      const models = (await (await fetch(`${url}/api/v1/models`)).json()) as { champions: Record<string, string> };
      const champion = models.champions.pump!;
      expect(champion).toBe(v.participating[0]!.adoption!.version);
      const meta = JSON.parse(readFileSync(path.join(modelsDirs[i]!, champion, 'meta.json'), 'utf8')) as {
        federation: unknown;
        kind: string;
      };
      expect(meta).toMatchObject({
        kind: 'pump',
        federation: { id: FEDERATION, session: co.session, round: 3, clients: ['gw-a', 'gw-b', 'gw-c'] },
        // What its heads read, as a model trained at home says it (a warm start and a transfer compare it).
        architecture: { pooling: 'last', members: 1 },
      });
    }
    // The forged plan was refused by every gateway that was listening, and counted.
    expect((await view(a.httpUrl)).counters.refused['bad-signature']).toBe(1);
    const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/vigil_federation_messages_refused_total\{reason="bad-signature"\} 1/);
    expect(metrics).toMatch(/vigil_federation_bytes_total\{direction="in"\} [1-9]/);
    await learner.terminate();
    await transport.close();
  }, 600_000);
});
