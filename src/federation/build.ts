import type { MqttConfig, LinkStage } from '../ingest/index.js';
import type { ScheduleConfig } from '../scheduler/index.js';
import { learningFor, type TrainingConfig, trainingConfig } from '../training/index.js';
import type { FederationConfig } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { redactUrl } from '../core/redact.js';
import type { ModelRegistry } from '../registry/index.js';
import type { CoordinatorOptions } from './coordinator.js';
import { FederationGateway } from './gateway.js';
import { federationReport } from './report.js';
import { LinkFederationTransport, MqttFederationTransport } from './transport.js';
import { WorkerLearner } from './worker-learner.js';

/** What federation reads of the config: its own section, what a local round trains with, the broker's TLS files, the energy budget's watts. */
export interface FederationSections extends TrainingConfig {
  federation: FederationConfig;
  mqtt: Pick<MqttConfig, 'url' | 'tls'>;
  schedule: Pick<ScheduleConfig, 'energy'>;
}

export interface FederationDeps {
  /** Takes the trainer for a federated task (null while a run has it), as TrainingManager.hold. */
  hold: (what: string) => (() => void) | null;
  /** The energy policy's start time for work that must end by `deadline` (EnergyScheduler.startWithin). */
  startWithin?: (deadline: number, expectedMs: number, what: string) => Promise<{ startAt: number }>;
  /** The registry the federated models are offered to: told when one became a kind's champion. */
  registry: Pick<ModelRegistry, 'championsChanged'>;
  /** Vigil's MQTT link: the federation's transport when its broker is the one Vigil ingests from. */
  link: LinkStage;
}

/** The coordinator settings of one kind from the config: the model the federation trains is the daemon's own. */
export function coordinatorOptions(
  config: FederationSections,
  kind: string,
  learner: WorkerLearner,
): Omit<CoordinatorOptions, 'federation'> {
  const f = config.federation;
  const c = f.coordinator;
  // The federation trains the kind's model as the kind's own recipe says.
  const l = learningFor(config, kind);
  return {
    kind,
    prefix: f.prefix,
    key: Buffer.from(f.key ?? '', 'utf8'),
    rounds: c.rounds,
    minClients: c.minClients,
    expectedClients: c.expectedClients,
    statsWindowMs: c.statsWindow,
    roundWindowMs: c.roundWindow,
    maxAttempts: c.maxAttempts,
    params: {
      epochs: c.localEpochs,
      batchSize: l.model.batchSize,
      learningRate: l.model.learningRate,
      mu: c.mu,
      rulLateWeight: l.model.rulLateWeight,
      seed: l.model.seed,
      privacy: c.privacy.enabled ? { clipNorm: c.privacy.clipNorm, noiseMultiplier: c.privacy.noiseMultiplier } : null,
    },
    shape: {
      window: l.window,
      stride: l.stride,
      stepMs: l.step,
      horizon: l.horizon,
      rulCap: l.rulCap,
      units: l.model.units,
      pooling: l.model.pooling,
      attentionUnits: l.model.attentionUnits,
      ...(l.smoothing < 1 ? { smoothing: l.smoothing } : {}),
      dropout: l.model.dropout,
      validationFraction: l.validationFraction,
      positiveShare: l.positiveShare,
    },
    aggregation: c.aggregation,
    trim: c.trim,
    serverOptimizer: c.serverOptimizer,
    normFactor: c.normFactor,
    maxMessageBytes: f.maxMessageBytes,
    privacyDelta: c.privacy.delta,
    initialModel: (plan) => learner.initialModel(plan),
  };
}

/**
 * The federation stage: null when it is off (the status section then says so). Its tasks run in
 * workers of their own, holding the trainer, so a round and a training run never race for the
 * registry; the broker connection is made once the daemon runs, and retried.
 */
export function buildFederation(config: FederationSections, d: FederationDeps, life: Lifecycle): FederationGateway | null {
  const f = config.federation;
  if (!f.enabled) {
    life.report(federationReport(null));
    return null;
  }
  const { clock, log } = life;
  const client = f.client ?? 'gateway';
  const url = f.broker.url ?? config.mqtt.url!;
  const learner = new WorkerLearner({
    config: trainingConfig(config),
    client,
    personalise: f.personalise,
    wattsPerCore: config.schedule.energy.wattsPerCore,
    heapMb: config.learning.workerHeapMb,
    clock,
    hold: d.hold,
    // The worker promoted it in the registry's files: this process's listeners (scoring) hear of it here.
    onPromoted: () => d.registry.championsChanged(),
  });
  const startWithin = d.startWithin;
  const gateway = new FederationGateway(
    {
      federation: f.id,
      client,
      brokerUrl: redactUrl(url),
      // Without a broker of its own the federation speaks on Vigil's link to mqtt.url.
      connect: async () =>
        f.broker.url === undefined
          ? new LinkFederationTransport(d.link.mqtt)
          : MqttFederationTransport.connect({
              url,
              clientId: `vigil-federation-${f.id}-${client}`,
              username: f.broker.username,
              password: f.broker.password,
              maxMessageBytes: f.maxMessageBytes,
              tls: config.mqtt.tls,
            }),
      participant: f.participate
        ? {
            prefix: f.prefix,
            key: Buffer.from(f.key ?? '', 'utf8'),
            kinds: f.kinds,
            maxMessageBytes: f.maxMessageBytes,
            learner,
            ...(startWithin
              ? {
                  startAt: async (deadline: number, expectedMs: number) =>
                    (await startWithin(deadline, expectedMs, 'a federated round')).startAt,
                }
              : {}),
          }
        : null,
      coordinators: f.coordinator.enabled ? f.coordinator.kinds.map((kind) => coordinatorOptions(config, kind, learner)) : [],
      everyMs: f.coordinator.every,
    },
    clock,
    log.child({ component: 'federation' }),
  );
  life.whenRunning(() => gateway.start());
  life.release('federation', async () => {
    await gateway.stop();
    await learner.terminate();
  });
  life.report(federationReport(gateway));
  return gateway;
}
