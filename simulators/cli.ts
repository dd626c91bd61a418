import { Command, Option } from 'commander';
import { parseDuration } from '../src/config/units.js';
import { parseSpeed } from './core/pacer.js';
import { Progress } from '../src/core/progress.js';
import { MqttSink, NdjsonSink, type MessageSink } from './core/sink.js';
import { runSimulation } from './fleet/run.js';
import { loadScenarioFile, machinesOfEachKind, resolveScenario } from './fleet/scenario.js';
import { cmapssDefaults, cmapssSource } from './replay/cmapss.js';
import { csvSource } from './replay/csv.js';
import { runReplay } from './replay/run.js';
import type { ReplaySource } from './replay/source.js';

interface SinkOptions {
  broker: string;
  qos: string;
  clientId?: string;
  username?: string;
  password?: string;
  dryRun?: boolean;
}

async function openSink(o: SinkOptions): Promise<MessageSink> {
  if (o.dryRun) {
    // `… --dry-run | head` closes the pipe early: that ends the run, it is not an error.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
    return new NdjsonSink(process.stdout);
  }
  const qos = Number(o.qos);
  if (qos !== 0 && qos !== 1) throw new Error(`--qos must be 0 or 1, got ${o.qos}`);
  // Never a commander default: --help would print it.
  const password = o.password ?? process.env.VIGIL_MQTT_PASSWORD;
  return MqttSink.connect(o.broker, { qos, clientId: o.clientId, username: o.username, password });
}

function sinkOptions(cmd: Command): Command {
  return cmd
    .option('--broker <url>', 'MQTT broker', process.env.VIGIL_MQTT_URL ?? 'mqtt://127.0.0.1:1883')
    .addOption(new Option('--qos <n>', 'publish QoS').choices(['0', '1']).default('1'))
    .option('--client-id <id>', 'MQTT client id')
    .option('--username <user>', 'broker user')
    .option('--password <password>', 'broker password (default: $VIGIL_MQTT_PASSWORD)')
    .option('--dry-run', 'write NDJSON {topic, payload} lines to stdout instead of publishing');
}

function abortOnSignal(): AbortController {
  const ac = new AbortController();
  const stop = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping (again to quit at once)…\n');
    ac.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return ac;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function registerSimulatorCommands(program: Command): void {
  sinkOptions(
    program
      .command('simulate')
      .description('publish a simulated, degrading machine fleet (failures, repairs, sensor faults) on the contract topics')
      .option('--scenario <file>', 'YAML fleet scenario (see simulators/scenarios/)')
      .option('--machines <n>', 'number of machines, spread over pump/motor/gearbox')
      .option('--seed <n>', 'random seed: same seed and start give the same stream')
      .option('--duration <d>', 'simulated time to cover, e.g. 14d')
      .option('--rate <r>', 'messages per machine per simulated second: 1, 0.5, 1/min, 6/h')
      .option('--start <iso>', 'simulated start time (default: so that simulated time reaches now as the run ends)')
      .option('--speed <x>', 'simulated seconds per wall second, or "max"', '60')
      .option('--truth <file>', 'where to write the ground truth (onsets, failures, faults)', 'simulation-truth.json'),
  ).action(
    async (
      o: SinkOptions & {
        scenario?: string;
        machines?: string;
        seed?: string;
        duration?: string;
        rate?: string;
        start?: string;
        speed: string;
        truth: string;
      },
    ) => {
      const input = (o.scenario ? loadScenarioFile(o.scenario) : {}) as Record<string, unknown>;
      if (o.machines !== undefined) {
        const n = Number(o.machines);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--machines must be a positive integer, got ${o.machines}`);
        input.machines = machinesOfEachKind(n);
      }
      if (o.seed !== undefined) input.seed = Number(o.seed);
      if (o.duration !== undefined) input.duration = o.duration;
      if (o.rate !== undefined) input.rate = o.rate;
      if (o.start !== undefined) input.start = o.start;
      const scenario = resolveScenario(input, o.scenario ?? 'command line');
      const speed = parseSpeed(o.speed);
      const sink = await openSink(o);
      const ac = abortOnSignal();
      const machines = scenario.machines.reduce((n, g) => n + g.count, 0);
      const progress = new Progress('simulate', Math.ceil(scenario.durationMs / scenario.intervalMs) * machines);
      const summary = await runSimulation(scenario, {
        sink,
        speed,
        now: Date.now(),
        truthFile: o.truth,
        signal: ac.signal,
        onProgress: (p) => progress.update(p.messages, iso(p.simTs)),
      });
      progress.stop();
      const stats = await sink.close();
      process.stderr.write(
        `simulated ${machines} machines from ${iso(summary.startTs)} to ${iso(summary.endTs)}: ${summary.messages} messages, ` +
          `${summary.readings} readings, ${summary.events} events, ${summary.failures} failures` +
          `${o.dryRun ? '' : `; ${stats.acked} acknowledged, ${stats.failed} failed`}; ground truth in ${o.truth}\n`,
      );
      if (stats.failed > 0) process.exitCode = 1;
    },
  );

  sinkOptions(
    program
      .command('replay')
      .description('replay recorded sensor data (NASA C-MAPSS text files or CSV) over MQTT')
      .argument('<file>', 'data file')
      .addOption(new Option('--format <f>', 'input format (default: by file name)').choices(['cmapss', 'csv']))
      .option('--speed <x>', 'data seconds per wall second, or "max"', 'max')
      .option('--rate <n>', 'at most this many messages per second')
      .option('--start <iso>', 'shift timestamps so the data starts here ("now" allowed)')
      .option('--loop [passes]', 'replay again and again (shifted in time), forever or this many passes')
      .option('--strict', 'stop at the first bad row (exit 2) instead of skipping it')
      .option('--topic-prefix <p>', 'first topic level', 'vigil')
      .option('--site <site>', 'site for every machine (default cmapss, or default for CSV)')
      .option('--line <line>', 'line for every machine (default: the C-MAPSS subset, or default for CSV)')
      .option('--step <d>', 'C-MAPSS: simulated time per cycle', '1m')
      .option('--machine-prefix <p>', 'C-MAPSS: machine name prefix (default from the file name)')
      .option('--no-failures', 'C-MAPSS: no failure event after the last cycle (default: on for train files)')
      .option('--events <file>', 'CSV: events file with ts, machine, type[, component, note]')
      .option('--ts-column <c>', 'CSV: timestamp column (default ts, timestamp or time)')
      .option('--machine-column <c>', 'CSV: machine column', 'machine')
      .option('--site-column <c>', 'CSV: site column', 'site')
      .option('--line-column <c>', 'CSV: line column', 'line')
      .option('--delimiter <d>', 'CSV: field delimiter', ','),
  ).action(async (file: string, o: SinkOptions & Record<string, string | boolean | undefined>) => {
    const format = (o.format as string | undefined) ?? (/\.csv$/i.test(file) ? 'csv' : 'cmapss');
    const start = o.start === undefined ? undefined : o.start === 'now' ? Date.now() : Date.parse(String(o.start));
    if (start !== undefined && !Number.isFinite(start)) throw new Error(`--start must be ISO-8601 or "now", got ${String(o.start)}`);
    const strict = Boolean(o.strict);
    let source: ReplaySource;
    if (format === 'cmapss') {
      const d = cmapssDefaults(file);
      source = cmapssSource({
        file,
        startMs: start,
        now: Date.now(),
        stepMs: parseDuration(String(o.step)),
        site: (o.site as string) ?? 'cmapss',
        line: (o.line as string) ?? d.line,
        machinePrefix: (o.machinePrefix as string) ?? d.machinePrefix,
        // --no-failures sets failures=false; otherwise train files fail and test files do not.
        failures: o.failures === false ? false : d.failures,
        strict,
      });
    } else {
      source = await csvSource({
        file,
        eventsFile: o.events as string | undefined,
        tsColumn: o.tsColumn as string | undefined,
        machineColumn: String(o.machineColumn),
        siteColumn: String(o.siteColumn),
        lineColumn: String(o.lineColumn),
        site: (o.site as string) ?? 'default',
        line: (o.line as string) ?? 'default',
        delimiter: String(o.delimiter),
        startMs: start,
        strict,
      });
    }
    const rate = o.rate === undefined ? null : Number(o.rate);
    if (rate !== null && !(rate > 0)) throw new Error(`--rate must be a positive number, got ${String(o.rate)}`);
    const passes = o.loop === undefined ? 1 : o.loop === true ? Infinity : Number(o.loop);
    if (!(passes >= 1)) throw new Error(`--loop takes a positive number of passes, got ${String(o.loop)}`);
    const sink = await openSink(o);
    const ac = abortOnSignal();
    process.stderr.write(`replaying ${source.description}\n`);
    const progress = new Progress('replay', passes === Infinity ? null : (source.total ?? 0) * passes);
    const summary = await runReplay(source, {
      sink,
      speed: parseSpeed(String(o.speed)),
      rateLimit: rate,
      passes,
      topicPrefix: String(o.topicPrefix),
      signal: ac.signal,
      onProgress: (p) => progress.update(p.messages, passes > 1 ? `pass ${p.pass + 1}` : ''),
    });
    progress.stop();
    const stats = await sink.close();
    const errors = summary.errors;
    process.stderr.write(
      `replayed ${summary.messages} messages (${summary.readings} readings, ${summary.events} events) in ${summary.seconds.toFixed(1)} s, ` +
        `${Math.round(summary.messages / Math.max(summary.seconds, 0.001))} msgs/s, ${summary.passes} pass(es)` +
        `${o.dryRun ? '' : `; ${stats.acked} acknowledged, ${stats.failed} failed`}; ${errors.length} rejected rows\n`,
    );
    for (const e of errors.slice(0, 20)) process.stderr.write(`  ${e.file}:${e.line}: ${e.reason}\n`);
    if (errors.length > 20) process.stderr.write(`  … and ${errors.length - 20} more\n`);
    if (stats.failed > 0) process.exitCode = 1;
  });
}
