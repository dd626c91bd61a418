/**
 * npm run bench:replay [-- --passes N --file path]
 *
 * Replays C-MAPSS FD001 (train) to a real Mosquitto as fast as it takes them, at QoS 1 and QoS 0,
 * and prints messages per second. Figures only.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MqttSink } from '../simulators/core/sink.js';
import { cmapssDefaults, cmapssSource } from '../simulators/replay/cmapss.js';
import { runReplay } from '../simulators/replay/run.js';
import { ensureDebianPackages, startMosquitto } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    passes: { type: 'string', default: '5' },
    file: { type: 'string', default: path.resolve('../shared/data/cmapss/train_FD001.txt') },
  },
});

ensureDebianPackages();
const mosquitto = await startMosquitto();
try {
  const d = cmapssDefaults(args.file);
  const source = cmapssSource({
    file: args.file,
    now: Date.now(),
    stepMs: 60_000,
    site: 'cmapss',
    line: d.line,
    machinePrefix: d.machinePrefix,
    failures: true,
    strict: false,
  });
  console.log(`bench:replay — ${source.description} × ${args.passes} passes to Mosquitto ${mosquitto.url}, node ${process.version}`);
  for (const qos of [1, 0] as const) {
    const sink = await MqttSink.connect(mosquitto.url, { qos });
    const t0 = performance.now();
    const summary = await runReplay(source, { sink, speed: 'max', rateLimit: null, passes: Number(args.passes), topicPrefix: 'vigil' });
    const stats = await sink.close();
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `QoS ${qos}: ${Math.round(summary.messages / seconds)} msgs/s, ${Math.round(summary.readings / seconds)} readings/s ` +
        `(${summary.messages} messages in ${seconds.toFixed(2)} s, ${stats.acked} acknowledged, ${stats.failed} failed)`,
    );
  }
} finally {
  await mosquitto.dispose();
}
