/**
 * Child process of bench:alerts: N machines at 1 Hz over MQTT. Each machine runs a cycle: quiet
 * readings, then one reading far above normal (the crossing), a few more high ones, a failure event,
 * a repair. It prints one JSON line per crossing with the wall time just before it was published.
 */
import mqtt from 'mqtt';

interface FleetOptions {
  url: string;
  machines: number;
  seconds: number;
  cycleSeconds: number;
  /** Seconds into each cycle at which a machine crosses (after a full model window of quiet data). */
  crossAt: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as FleetOptions;
const client = await mqtt.connectAsync(o.url, { clientId: `bench-alerts-fleet-${process.pid}`, clean: true });
const SENSORS = ['x', 's1', 's2', 's3', 's4', 's5'];
const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
let seed = 12345;
const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.1;
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

for (let second = 0; second < o.seconds; second++) {
  const tickAt = start + second * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, tickAt - Date.now())));
  for (let i = 0; i < o.machines; i++) {
    // Machines are spread over the second so the broker sees a steady stream, not bursts.
    const at = tickAt + Math.floor((i * 1000) / o.machines);
    const wait = at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const machine = `m${String(i).padStart(3, '0')}`;
    const phase = (second + i * 7) % o.cycleSeconds;
    const high = phase >= o.crossAt && phase < o.crossAt + 5;
    const values: Record<string, number> = {};
    for (const s of SENSORS) values[s] = noise();
    values.x = high ? 1 + noise() : 0.1 + noise();
    const topic = `vigil/bench/line1/${machine}`;
    const ts = Date.now();
    if (phase === o.crossAt) process.stdout.write(`${JSON.stringify({ machine, sentAt: ts })}\n`);
    client.publish(`${topic}/telemetry`, JSON.stringify({ ts, values }), { qos: 1 });
    if (phase === o.crossAt + 5)
      client.publish(`${topic}/events`, JSON.stringify({ ts: ts + 1, type: 'failure', component: 'bench' }), { qos: 1 });
    if (phase === o.crossAt + 6) client.publish(`${topic}/events`, JSON.stringify({ ts: ts + 1, type: 'repair' }), { qos: 1 });
  }
}
await client.endAsync();
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
