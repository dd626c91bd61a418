import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { MqttSink } from '../../simulators/core/sink.js';
import { runSimulation } from '../../simulators/fleet/run.js';
import { loadScenarioFile, resolveScenario } from '../../simulators/fleet/scenario.js';
import { validateConfig, LOG_REDACTION } from '../vigil-config.js';
import { createLogger } from '../core/logger.js';
import { Daemon } from '../main.js';
import { installSignalHandlers } from '../signals.js';

const SCENARIO = fileURLToPath(new URL('../../../simulators/scenarios/demo.yaml', import.meta.url));

/**
 * The daemon on embedded defaults, tuned to show its whole loop in minutes: a seeded fleet simulated
 * at high speed (data stamped in the recent past, so nothing is "from the future"), a ten-minute
 * step, a small model that retrains as failures accumulate, one-second scoring.
 */
export function demoConfig(o: { dataDir: string; httpPort: number; mqttPort: number }): Record<string, unknown> {
  return {
    dataDir: o.dataDir,
    // The console summary is the demo's voice; only real problems are logged beside it.
    log: { level: 'error' },
    // The simulated fleet (and a newcomer's mosquitto_pub) connect without a user, over loopback only.
    mqtt: { embedded: { host: '127.0.0.1', port: o.mqttPort, allowAnonymous: true }, clientId: 'vigil-demo' },
    http: { host: '127.0.0.1', port: o.httpPort },
    // The fleet runs in fast time, stamped in the past: in its own time everything it sends is live,
    // so the backfill rule (data older than a scoring window at arrival) must not apply to it.
    ingest: { backfillAge: '3650d' },
    // Named kinds, one model each: a pump is scored only on a pump's sensors.
    machines: [
      { match: 'pump-*', kind: 'pump' },
      { match: 'motor-*', kind: 'motor' },
      { match: 'gearbox-*', kind: 'gearbox' },
    ],
    learning: {
      modelsDir: path.join(o.dataDir, 'models'),
      step: '10m',
      window: 36,
      stride: 2,
      horizon: 36,
      rulCap: 144,
      maxGapSteps: 3,
      lookback: '60d',
      // A third of each kind's failed lives held out: a first model needs three failures in validation.
      validationFraction: 0.34,
      // One member, not the default ensemble of five: a newcomer should see the first model within a minute.
      model: { units: [32, 16], epochs: 12, patience: 4, members: 1 },
    },
    // The policy ticks every 10 s; the simulator keeps the CPU busy, so idleness is not required here.
    schedule: {
      cron: '*/10 * * * * *',
      need: { minFailures: 3, minNewFailures: 6, minInterval: '2m' },
      idle: { maxCpu: 1, maxLoadPerCore: 1000 },
    },
    scoring: { interval: '1s' },
    // Half a simulated day of normal running per kind, three-hour windows and fewer epochs than a
    // gateway's defaults (like the failure model's here): a health model of every kind within a minute.
    health: { minNormal: '12h', window: 18, epochs: 10 },
  };
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the daemon plus a simulated fleet in fast time: machines, scores, RUL and alerts within minutes')
    .option('--data-dir <dir>', 'where the demo keeps its data and models (emptied at each start)', './vigil-demo')
    .option('--http-port <n>', 'HTTP API port', '8080')
    .option('--mqtt-port <n>', 'embedded MQTT broker port', '1883')
    .option('--speed <x>', 'simulated seconds per wall second', '3000')
    .option('--days <n>', 'simulated days before it stops', '20')
    .action(async (o: { dataDir: string; httpPort: string; mqttPort: string; speed: string; days: string }) => {
      const speed = Number(o.speed);
      const days = Number(o.days);
      if (!(speed > 0) || !(days > 0)) throw new Error('--speed and --days must be positive numbers');
      const dataDir = path.resolve(o.dataDir);
      const fresh = prepareDemoDir(dataDir);
      const config = validateConfig(demoConfig({ dataDir, httpPort: Number(o.httpPort), mqttPort: Number(o.mqttPort) }), {
        cwd: process.cwd(),
        origin: 'demo',
      });
      const log = createLogger({ level: config.log.level, redact: LOG_REDACTION });
      const daemon = new Daemon(config, log);
      const abort = new AbortController();
      const wallStart = Date.now();
      let summary: NodeJS.Timeout | undefined;
      installSignalHandlers(
        async () => {
          abort.abort();
          clearInterval(summary);
          await daemon.stop();
        },
        log,
        config.shutdown.timeout,
      );
      await daemon.start();
      const out = (line: string) => process.stdout.write(`${line}\n`);
      if (fresh) out(fresh);
      out(`Vigil demo — ${days} simulated days at ${speed}× (one day every ${(86_400 / speed).toFixed(0)} s). Ctrl-C stops.`);
      out(`  status page: ${daemon.httpUrl}/   (fleet, machines, live alerts, gateway)`);
      out(`  machines:  ${daemon.httpUrl}/api/v1/machines`);
      out(`  alerts:    ${daemon.httpUrl}/api/v1/alerts   (live: curl -N ${daemon.httpUrl}/api/v1/alerts/stream)`);
      out(`  status:    ${daemon.httpUrl}/api/v1/status   API docs: ${daemon.httpUrl}/docs`);
      out(`  MQTT:      ${daemon.mqttUrl}   (alerts retained on vigil/+/+/+/alerts)`);

      const scenario = resolveScenario({ ...(loadScenarioFile(SCENARIO) as object), duration: `${days}d` }, SCENARIO);
      // Stamped so the last simulated reading is still in the past when the run ends.
      const startMs = Date.now() - scenario.durationMs - 3_600_000;
      let simTs = startMs;
      summary = setInterval(() => out(demoLine(daemon, (Date.now() - wallStart) / 1000, (simTs - startMs) / 86_400_000)), 10_000);
      const sink = await MqttSink.connect(daemon.mqttUrl, { qos: 1, clientId: 'vigil-demo-fleet' });
      try {
        const result = await runSimulation(
          { ...scenario, startMs },
          { sink, speed, now: Date.now(), signal: abort.signal, onProgress: (p) => (simTs = p.simTs) },
        );
        if (!abort.signal.aborted)
          out(`simulation finished: ${result.failures} failures in ${days} days; the daemon keeps running (Ctrl-C stops).`);
      } finally {
        await sink.close().catch(() => undefined);
      }
    });
}

const MARKER = '.vigil-demo';

/**
 * The simulated fleet starts at day 0 each run, so a previous run's data (stamped later) would
 * freeze the scores and carry its counters over: a demo directory starts clean. A directory that
 * is not a demo's (no marker) is never emptied. Returns what was done, for the console.
 */
export function prepareDemoDir(dir: string): string | null {
  let said: string | null = null;
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(path.join(dir, MARKER)))
      throw new Error(`${dir} holds files but is not a demo directory (no ${MARKER} in it): choose another --data-dir`);
    rmSync(dir, { recursive: true, force: true });
    said = `starting clean: removed the previous demo run's data in ${dir}`;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, MARKER), 'made by vigil demo; the next demo run empties this directory\n');
  return said;
}

/** One line of what is happening: data, model, training, risks, alerts and how they fared. */
function demoLine(daemon: Daemon, wallSeconds: number, simDays: number): string {
  const s = daemon.status();
  const machines = daemon.stages.scoring.service.machines() ?? [];
  const risky = machines
    .filter((m) => m.score)
    .sort((a, b) => b.score!.probability - a.score!.probability)
    .slice(0, 3)
    .map((m) => `${m.ref.machine} ${(m.score!.probability * 100).toFixed(0)}%/RUL ${((m.score!.rulMs ?? 0) / 3_600_000).toFixed(0)}h`);
  const t = s.training.running;
  const p = t?.progress as
    | { phase?: string; epoch?: number; epochs?: number; member?: number; members?: number; done?: number; total?: number }
    | null
    | undefined;
  const member = p?.members && p.members > 1 ? `member ${p.member}/${p.members}, ` : '';
  const step =
    p?.phase === 'training'
      ? `${member}epoch ${p.epoch}/${p.epochs}`
      : p?.phase === 'batch'
        ? `${member}epoch ${p.epoch}/${p.epochs}, ${Math.round(((p.done ?? 0) / (p.total || 1)) * 100)}% done`
        : (p?.phase ?? 'starting');
  const training = t
    ? `training run ${t.id}${t.role === 'health' ? ' (health)' : ''} (${step})${s.model.champion ? `, serving ${s.model.champion}` : ''}`
    : s.model.champion
      ? `model ${s.model.champion}`
      : 'no model yet';
  const q = s.alerts.quality;
  const watched = { both: 0, failure: 0, health: 0, none: 0 };
  for (const m of machines) {
    const w = daemon.stages.scoring.service.watchedBy(m.ref.machine);
    watched[w?.failure && w.health ? 'both' : w?.failure ? 'failure' : w?.health ? 'health' : 'none']++;
  }
  const watchedBy = `watched by health+failure ${watched.both}, health ${watched.health}, failure ${watched.failure}, none ${watched.none}`;
  return (
    `[${wallSeconds.toFixed(0).padStart(4)} s | day ${simDays.toFixed(1)}] ${s.ingest.readingsAccepted} readings, ${machines.length} machines, ${s.scoring.machinesScored} scored | ${training} | ` +
    `${watchedBy} | top risk: ${risky.join(', ') || '–'} | alerts open ${s.alerts.open + s.alerts.acknowledged}, ` +
    `failures announced ${q.truePositives} (risk) + ${q.anomaly.truePositives} (anomaly), missed ${q.missedFailures}, unwatched ${q.unwatchedFailures}, false alarms ${q.falseAlarms + q.anomaly.falseAlarms}`
  );
}
