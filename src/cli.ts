#!/usr/bin/env node
import { getHeapStatistics } from 'node:v8';
import { Command } from 'commander';
import YAML from 'yaml';
import { registerSimulatorCommands } from '../simulators/cli.js';
import { StrictModeError } from '../simulators/replay/source.js';
import {
  registerDemoCommand,
  registerEnergyCommands,
  registerFederateCommand,
  registerLearningCommands,
  registerOperateCommands,
} from './commands/index.js';
import { ConfigSchema, LOG_REDACTION, loadConfig, maskSecrets } from './vigil-config.js';
import { humanConfig } from './config/print.js';
import { configReference } from './config/reference.js';
import { ENV_BINDINGS } from './config/env.js';
import { VigilError } from './core/errors.js';
import { redactUrl } from './core/redact.js';
import { createLogger } from './core/logger.js';
import { Daemon } from './main.js';
import { installSignalHandlers } from './signals.js';
import { VERSION } from './core/version.js';

const program = new Command();
program
  .name('vigil')
  .description('Edge predictive-maintenance daemon: MQTT ingest, lossless storage, failure prediction and alerts.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('start')
  .description('run the daemon (embedded broker and SQLite when nothing else is configured)')
  .option('-c, --config <file>', 'YAML config file (default: $VIGIL_CONFIG, else embedded defaults)')
  .addHelpText('after', `\nEnvironment overrides:\n${ENV_BINDINGS.map((b) => `  ${b.env.padEnd(24)} ${b.help}`).join('\n')}`)
  .action(async (opts: { config?: string }) => {
    const config = loadConfig({ file: opts.config });
    const log = createLogger({ level: config.log.level, redact: LOG_REDACTION });
    process.on('uncaughtException', (err) => {
      log.fatal({ err }, 'uncaught exception; exiting (acknowledged data is safe in the journal)');
      log.flush?.();
      process.exit(1);
    });
    const daemon = new Daemon(config, log);
    installSignalHandlers(() => daemon.stop(), log, config.shutdown.timeout);
    try {
      await daemon.start();
    } catch (err) {
      log.fatal({ err }, 'could not start');
      // The reason on the terminal too, where a person starting it by hand looks.
      if (err instanceof VigilError) process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
      log.flush?.();
      await daemon.stop().catch(() => undefined);
      process.exit(1);
    }
    log.info(
      {
        mqtt: daemon.mqttUrl,
        http: daemon.httpUrl,
        store: config.store.kind,
        dataDir: config.dataDir,
        heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
      },
      `Vigil ${VERSION} running: status at ${daemon.httpUrl}/api/v1/status`,
    );
  });

const configCmd = program.command('config').description('check or print configuration');
configCmd
  .command('check')
  .description('validate a config file (and VIGIL_* overrides); exit 1 with every problem listed')
  .argument('<file>', 'YAML config file')
  .action((file: string) => {
    const cfg = loadConfig({ file });
    process.stdout.write(
      `${file}: ok (store ${cfg.store.kind}, broker ${cfg.mqtt.url ? redactUrl(cfg.mqtt.url) : `embedded on ${cfg.mqtt.embedded.host}:${cfg.mqtt.embedded.port}`})\n`,
    );
  });
configCmd
  .command('print')
  .description('print the effective configuration, secrets masked')
  .option('-c, --config <file>', 'YAML config file')
  .option('--json', 'JSON instead of YAML')
  .action((opts: { config?: string; json?: boolean }) => {
    const masked = humanConfig(ConfigSchema, maskSecrets(loadConfig({ file: opts.config })));
    process.stdout.write(opts.json ? `${JSON.stringify(masked, null, 2)}\n` : YAML.stringify(masked));
  });

configCmd
  .command('reference')
  .description('print the configuration reference (every setting, its default and what it does) as Markdown')
  .action(() => {
    process.stdout.write(configReference(ConfigSchema));
  });

registerSimulatorCommands(program);
registerLearningCommands(program);
registerDemoCommand(program);
registerOperateCommands(program);
registerEnergyCommands(program);
registerFederateCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof StrictModeError) {
    process.stderr.write(`vigil: bad input: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof VigilError) {
    process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
    process.exit(err.code === 'VGL_CONFIG_INVALID' || err.code === 'VGL_CONFIG_UNREADABLE' ? 2 : 1);
  }
  // Expected problems (bad flags, unreadable files, bad scenarios) read best as one line.
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.VIGIL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
