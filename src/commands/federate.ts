import type { Command } from 'commander';
import { loadConfig, LOG_REDACTION } from '../vigil-config.js';
import type { VigilConfig } from '../vigil-config.js';
import { systemClock } from '../core/clock.js';
import { createLogger } from '../core/logger.js';
import { redactUrl } from '../core/redact.js';
import { coordinatorOptions, FederationCoordinator, MqttFederationTransport, WorkerLearner } from '../federation/index.js';
import { trainingConfig } from '../training/index.js';
import { installSignalHandlers } from '../signals.js';

interface FederateOptions {
  config?: string;
  kind: string[];
  rounds?: string;
}

/**
 * `vigil federate`: a coordinator alone, without a daemon (a server beside the broker, say). It runs
 * one federation per kind from the config's `federation` section, prints each step as it closes,
 * and exits 0 when every one is done, 1 when one failed.
 */
export async function federate(o: FederateOptions, out: (line: string) => void): Promise<number> {
  const base = loadConfig({ file: o.config });
  const kinds = o.kind.length > 0 ? o.kind : base.federation.coordinator.kinds;
  if (kinds.length === 0) throw new Error('name the kinds to coordinate (--kind, or federation.coordinator.kinds)');
  if (!base.federation.key) throw new Error('a federation needs its signing key (federation.key or VIGIL_FEDERATION_KEY)');
  const url = base.federation.broker.url ?? base.mqtt.url;
  if (!url) throw new Error("a federation needs the plant's broker (federation.broker.url or mqtt.url)");
  const config: VigilConfig = {
    ...base,
    federation: {
      ...base.federation,
      coordinator: { ...base.federation.coordinator, ...(o.rounds ? { rounds: positive(o.rounds, '--rounds') } : {}) },
    },
  };
  const log = createLogger({ level: config.log.level, redact: LOG_REDACTION });
  const f = config.federation;
  const transport = await MqttFederationTransport.connect({
    url,
    clientId: `vigil-federation-${f.id}-coordinator`,
    username: f.broker.url ? f.broker.username : config.mqtt.username,
    password: f.broker.url ? f.broker.password : config.mqtt.password,
    maxMessageBytes: f.maxMessageBytes,
    tls: config.mqtt.tls,
  });
  // Only the first global model is built here (in a worker); nothing trains on this host.
  const learner = new WorkerLearner({
    config: trainingConfig(config),
    client: 'coordinator',
    personalise: f.personalise,
    wattsPerCore: config.schedule.energy.wattsPerCore,
    heapMb: config.learning.workerHeapMb,
    clock: systemClock,
    hold: () => () => undefined,
    onPromoted: () => undefined,
  });
  out(`coordinating ${kinds.join(', ')} of federation ${f.id} on ${redactUrl(url)}: ${f.coordinator.rounds} rounds`);
  const coordinators = kinds.map(
    (kind) => new FederationCoordinator({ ...coordinatorOptions(config, kind, learner), federation: f.id }, transport, systemClock, log),
  );
  installSignalHandlers(
    async () => {
      for (const c of coordinators) await c.stop();
    },
    log,
    10_000,
  );
  const printed = new Map<FederationCoordinator, number>();
  const flush = () => {
    for (const c of coordinators)
      for (const r of c.history.slice(printed.get(c) ?? 0)) {
        const m = r.metrics;
        out(
          `${c.summary().kind} round ${r.round} (attempt ${r.attempt}): ${r.outcome}, ${r.clients.length} gateways` +
            (r.stragglers.length ? `, stragglers ${r.stragglers.join(',')}` : '') +
            (r.refused.length ? `, refused ${r.refused.map((x) => `${x.client}:${x.reason}`).join(',')}` : '') +
            (m?.validationRmse != null ? `, validation RUL RMSE ${m.validationRmse.toFixed(2)}` : '') +
            (r.epsilon !== null ? `, ε ${r.epsilon.toFixed(2)}` : ''),
        );
        printed.set(c, (printed.get(c) ?? 0) + 1);
      }
  };
  const ticker = setInterval(flush, 1000);
  try {
    for (const c of coordinators) await c.start();
    const phases = await Promise.all(coordinators.map((c) => c.done));
    flush();
    out(kinds.map((k, i) => `${k}: ${phases[i]}`).join('; '));
    return phases.every((p) => p === 'done') ? 0 : 1;
  } finally {
    clearInterval(ticker);
    await learner.terminate();
    await transport.close();
  }
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number ≥ 1, not ${v}`);
  return n;
}

export function registerFederateCommand(program: Command): void {
  program
    .command('federate')
    .description("coordinate federated rounds over the plant's broker, without a daemon (docs/federated.md)")
    .option('-c, --config <file>', 'YAML config file with a federation section')
    .option('-k, --kind <kind...>', 'kinds to coordinate (default: federation.coordinator.kinds)', [])
    .option('--rounds <n>', 'rounds (default: federation.coordinator.rounds)')
    .action(async (opts: FederateOptions) => {
      process.exitCode = await federate(opts, (line) => process.stdout.write(`${line}\n`));
    });
}
