/** Child process that publishes a telemetry stream and prints its result as JSON (keeps the publisher's CPU and memory out of the daemon's figures). */
import { publishStream, type StreamOptions } from './lib/publisher.js';

const options = JSON.parse(process.argv[2] ?? '{}') as StreamOptions;
process.stdout.write(`${JSON.stringify({ ready: true, at: Date.now() })}\n`);
const result = await publishStream(options);
process.stdout.write(`${JSON.stringify(result)}\n`);
