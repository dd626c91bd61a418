import { validateConfig } from '../../src/vigil-config.js';
import type { VigilConfig } from '../../src/vigil-config.js';
import { silentLogger } from '../../src/core/logger.js';
import path from 'node:path';
import type { Daemon } from '../../src/main.js';
import { freePort } from '../../bench/lib/services.js';
import { tempDir } from './fixtures.js';

/** An in-process daemon on free ports and a temp data dir; `overrides` is a config document. */
export async function startTestDaemon(overrides: Record<string, unknown> = {}): Promise<{ daemon: Daemon; config: VigilConfig }> {
  const raw = {
    dataDir: tempDir('vigil-daemon-'),
    log: { level: 'silent' },
    http: { port: await freePort() },
    // A wall-clock cron tick must not start training in the middle of an unrelated test.
    schedule: { enabled: false },
    ...overrides,
    // Never the repository's models/ directory, even when a test sets other learning options.
    learning: { modelsDir: tempDir('vigil-models-'), ...(overrides.learning as object) },
    // The tests' publishers connect to the embedded broker without a user, from loopback.
    mqtt: {
      embedded: { port: await freePort(), allowAnonymous: true },
      clientId: `vigil-test-${Math.random().toString(36).slice(2, 10)}`,
      ...(overrides.mqtt as object),
    },
  };
  const config = validateConfig(raw, { cwd: process.cwd(), origin: 'test' });
  // The compiled daemon (built by `npm test`): its scoring and training workers are compiled files.
  const { Daemon: CompiledDaemon } = (await import(path.resolve('dist/src/main.js'))) as typeof import('../../src/main.js');
  const daemon = new CompiledDaemon(config, silentLogger());
  await daemon.start();
  return { daemon, config };
}
