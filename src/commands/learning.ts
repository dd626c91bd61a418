import { type TrainingProgress, healthFor, learningFor, loadDataset, validate, TrainingRun } from '../training/index.js';
import type { Command } from 'commander';
import { loadConfig } from '../vigil-config.js';
import { Progress } from '../core/progress.js';
import { createSensorStore } from '../store/index.js';
import { chooseKernels, loadTf, probeNativeKernels, quietTfWarnings } from '../model/index.js';
import { applyNormalisation, buildWindows, storeKinds } from '../features/index.js';
import { ModelRegistry, kindOf, roleOf } from '../registry/index.js';
import { describeModel, pct, summary } from './model-text.js';
import { INFERRED_KIND_RULE } from '../core/kinds.js';
import { MODEL_ROLES, type ModelRole } from '../core/model-roles.js';

export function registerLearningCommands(program: Command): void {
  program
    .command('kernels')
    .description('which LSTM kernels training and scoring use on this machine (learning.kernel), and why not native when not')
    .option('-c, --config <file>', 'YAML config file')
    .action(async (o: { config?: string }) => {
      const config = loadConfig({ file: o.config });
      const native = await probeNativeKernels();
      const chosen = await chooseKernels(
        config.learning.kernel,
        config.learning.kernelThreads > 0 ? { threads: config.learning.kernelThreads } : {},
      );
      console.log(`learning.kernel: ${config.learning.kernel}`);
      console.log(`native: ${native.instructionSet ? `${native.instructionSet} (start-up check passed)` : native.reason}`);
      console.log(`uses: ${chosen.describe}`);
      await chosen.runtime?.close();
    });

  program
    .command('train')
    .description('train a model now from the configured store (in a worker thread), and promote it if it beats the champion')
    .option('-c, --config <file>', 'YAML config file')
    .option('--kind <kind>', 'the machine kind to train (default: the kind most in need; `vigil models kinds` lists them)')
    .option('--epochs <n>', 'at most this many epochs (default: learning.model.epochs)')
    .option('--no-warm-start', 'train from scratch even when the champion could be fine-tuned')
    .option('--role <role>', 'failure (the failure predictor, default) or health (learned from readings alone)', 'failure')
    .action(async (o: { config?: string; kind?: string; epochs?: string; warmStart: boolean; role: string }) => {
      const config = loadConfig({ file: o.config });
      const epochs = o.epochs === undefined ? undefined : Number(o.epochs);
      if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 1))
        throw new Error(`--epochs must be a positive integer, got ${o.epochs}`);
      const role = parseRole(o.role);
      const run = new TrainingRun(config, { epochs, warmStart: o.warmStart, kind: o.kind, role });
      // The kind's own recipe when one is named (the kind most in need is only known to the run).
      const learning = o.kind ? learningFor(config, o.kind) : config.learning;
      const epochsPlanned =
        epochs ?? (role === 'health' ? (o.kind ? healthFor(config, o.kind) : config.health).epochs : learning.model.epochs);
      const members = role === 'health' ? 1 : learning.model.members;
      // An ensemble's members train one after the other; the bar spans all of them.
      const bar = process.stderr.isTTY ? new Progress('train', epochsPlanned * members) : null;
      run.on('progress', (p: TrainingProgress) => {
        if (p.phase === 'training') {
          const member = p.members && p.members > 1 ? `member ${p.member}/${p.members}, ` : '';
          const line = `${member}epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, validation ${p.valLoss.toFixed(4)} (best epoch ${p.bestEpoch}), ${p.samplesPerSecond.toFixed(0)} samples/s, ETA ${(p.etaMs / 1000).toFixed(0)} s`;
          if (bar)
            bar.update(
              ((p.member ?? 1) - 1) * epochsPlanned + p.epoch,
              `${member}val ${p.valLoss.toFixed(4)}, ETA ${(p.etaMs / 1000).toFixed(0)} s`,
            );
          else process.stderr.write(`${line}\n`);
        } else if (p.phase !== 'batch') process.stderr.write(`${p.phase}: ${p.message}\n`);
      });
      process.once('SIGINT', () => {
        process.stderr.write('cancelling the training run…\n');
        run.cancel();
      });
      const outcome = await run.result;
      bar?.stop();
      if (outcome.state === 'succeeded' && outcome.meta) {
        process.stdout.write(
          `${summary(outcome.meta)}\n${outcome.meta.decision.promoted ? 'promoted to champion' : 'kept as challenger'}: ${outcome.meta.decision.reason}\n`,
        );
      } else if (outcome.state === 'cancelled') {
        process.stdout.write('cancelled; nothing saved\n');
        process.exitCode = 130;
      } else {
        process.stderr.write(`training failed: ${outcome.error}\n`);
        process.exitCode = 1;
      }
    });

  program
    .command('evaluate')
    .description("score a model version on the store's current data (its held-out machines when present)")
    .argument('<version>', 'model version, e.g. v0003')
    .option('-c, --config <file>', 'YAML config file')
    .action(async (version: string, o: { config?: string }) => {
      const config = loadConfig({ file: o.config });
      quietTfWarnings();
      const { tf } = await loadTf(config.learning.backend);
      const registry = new ModelRegistry(config.learning.modelsDir);
      const any = registry.meta(version);
      if (any.role === 'health')
        throw new Error(`${version} is a health model: \`vigil models show ${version}\` gives its figures on held-out normal data`);
      const meta = any;
      const store = createSensorStore(config);
      await store.open();
      // A kind's model is evaluated on its own kind's machines only.
      const kind = meta.kind ? (await storeKinds(store, config.machines)).find((g) => g.kind === meta.kind) : undefined;
      if (meta.kind && !kind) {
        await store.close();
        throw new Error(`no machine of kind ${meta.kind} in the store to evaluate ${version} on`);
      }
      const data = await loadDataset(
        store,
        {
          ...config.learning,
          step: meta.stepMs,
          window: meta.window,
          horizon: meta.horizon,
          rulCap: meta.rulCap,
          sensors: meta.sensors,
          conditions: meta.normalisation.regimes?.model.conditions ?? [],
        },
        Date.now(),
        kind,
      ).finally(() => store.close());
      const held = new Set(meta.machines.validation);
      const chosen = data.items.some((i) => held.has(i.seg.machine)) ? data.items.filter((i) => held.has(i.seg.machine)) : data.items;
      const ws = buildWindows(
        chosen.map((i) => ({ seg: applyNormalisation(i.seg, meta.normalisation), labels: i.labels })),
        meta.window,
        1,
      );
      if (ws.n === 0) throw new Error('no labelled windows to evaluate on');
      const model = await registry.load(tf, version);
      const v = validate(tf, model, ws, { rulCap: meta.rulCap, horizon: meta.horizon, stepMs: meta.stepMs, threshold: meta.threshold });
      const c = v.classification;
      process.stdout.write(
        `${version} on ${ws.n} windows of ${new Set(chosen.map((i) => i.seg.machine)).size} machines (${c.positives} before a failure):\n` +
          `  accuracy ${pct(c.accuracy)}, precision ${pct(c.precision)}, recall ${pct(c.recall)}, F1 ${pct(c.f1)}, PR-AUC ${pct(c.prAuc)}, ROC-AUC ${pct(c.rocAuc)}\n` +
          `  confusion: tp ${c.confusion.tp}, fp ${c.confusion.fp}, tn ${c.confusion.tn}, fn ${c.confusion.fn}\n` +
          `  RUL: RMSE ${v.rul.rmse.toFixed(2)}, MAE ${v.rul.mae.toFixed(2)}, score ${v.rul.score.toFixed(0)} (steps)\n` +
          `  failures detected ${v.lead.detected}, missed ${v.lead.missed}, mean lead ${v.lead.meanLeadMs === null ? '–' : `${(v.lead.meanLeadMs / 60_000).toFixed(0)} min`}\n`,
      );
    });

  const models = program.command('models').description('list, inspect, promote and roll back model versions');
  const registryOf = (file?: string) => new ModelRegistry(loadConfig({ file }).learning.modelsDir);
  models
    .command('list')
    .description("versions, newest last, each with the machine kind it serves; * marks each kind's champion")
    .option('-c, --config <file>', 'YAML config file')
    .option('--kind <kind>', 'only versions of this machine kind')
    .option('--role <role>', 'only versions of this role: failure or health')
    .action((o: { config?: string; kind?: string; role?: string }) => {
      const role = o.role === undefined ? undefined : parseRole(o.role);
      const list = registryOf(o.config).list(o.kind, role);
      if (list.length === 0) process.stdout.write(o.kind || role ? 'no such models yet\n' : 'no models yet: run `vigil train`\n');
      for (const m of list)
        process.stdout.write(
          `${m.champion ? '*' : ' '} [${kindOf(m)}, ${roleOf(m)}] ${summary(m)} — ${m.createdAt}${m.champion ? ' (champion)' : m.decision.promoted ? '' : ' (rejected challenger)'}\n`,
        );
    });
  models
    .command('kinds')
    .description('the machine kinds in the store, their sensors and champions (and the rule that infers a kind)')
    .option('-c, --config <file>', 'YAML config file')
    .action(async (o: { config?: string }) => {
      const config = loadConfig({ file: o.config });
      const store = createSensorStore(config);
      await store.open();
      let kinds;
      try {
        kinds = await storeKinds(store, config.machines);
      } finally {
        await store.close();
      }
      const registry = new ModelRegistry(config.learning.modelsDir);
      if (kinds.length === 0) process.stdout.write('no machines in the store yet\n');
      for (const k of kinds) {
        const served = registry.servingVersion(k.kind);
        const newest = served ? null : registry.newestVersion(k.kind);
        const health = registry.championVersion(k.kind, 'health');
        const newestHealth = health ? null : registry.newestVersion(k.kind, 'health');
        process.stdout.write(
          `${k.kind} (${k.source === 'config' ? 'from machines: in the config' : 'inferred'}): ${k.machines.length} machines, ${k.sensors.length} sensors; ` +
            `failure: ${served ? `scored by ${served}` : newest ? `no model: ${newest.version} was not promoted (${newest.decision.reason})` : 'no model trained yet'}; ` +
            `health: ${health ? `watched by ${health}` : newestHealth ? `no model: ${newestHealth.version} was not promoted (${newestHealth.decision.reason})` : 'no model trained yet'}\n`,
        );
      }
      process.stdout.write(`rule: ${INFERRED_KIND_RULE}\n`);
    });
  models
    .command('show')
    .description('what a version is, how good it was, what it learned from and what it did not see')
    .argument('<version>')
    .option('-c, --config <file>', 'YAML config file')
    .option('--json', 'all of meta.json')
    .action((version: string, o: { config?: string; json?: boolean }) => {
      const meta = registryOf(o.config).meta(version);
      process.stdout.write(o.json ? `${JSON.stringify(meta, null, 2)}\n` : describeModel(meta));
    });
  models
    .command('promote')
    .argument('<version>')
    .option('-c, --config <file>', 'YAML config file')
    .action((version: string, o: { config?: string }) => {
      registryOf(o.config).promote(version, 'promoted by an operator');
      process.stdout.write(`${version} is the champion\n`);
    });
  models
    .command('rollback')
    .argument('[version]', 'the version to return to (default: the previous champion of the kind)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--kind <kind>', 'whose champion to roll back (needed with several kinds and no version)')
    .option('--role <role>', 'which champion: failure (default) or health')
    .action((version: string | undefined, o: { config?: string; kind?: string; role?: string }) => {
      const role = o.role === undefined ? undefined : parseRole(o.role);
      process.stdout.write(`${registryOf(o.config).rollback(version, o.kind, role)} is the champion again\n`);
    });
}

function parseRole(role: string): ModelRole {
  if (!(MODEL_ROLES as readonly string[]).includes(role)) throw new Error(`--role must be ${MODEL_ROLES.join(' or ')}, got ${role}`);
  return role as ModelRole;
}
