import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/fixtures.js';
import { waitForReady } from '../support/influx.js';
import { runCli } from '../support/cli.js';
import { startTestDaemon } from '../support/daemon.js';
import { freePort } from '../../bench/lib/services.js';

const CLI = path.resolve('dist/src/cli.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('vigil CLI', () => {
  it('prints help for every command', () => {
    for (const args of [['--help'], ['start', '--help'], ['config', '--help'], ['config', 'check', '--help']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Usage: vigil/);
    }
    expect(run(['start', '--help']).stdout).toContain('VIGIL_MQTT_URL');
  });

  it('config check: ok for a good file, exit 2 naming the key for a bad one', () => {
    const dir = tempDir();
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'mqtt:\n  url: mqtt://broker:1883\nstore:\n  kind: influx\n');
    const ok = run(['config', 'check', good]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('ok');

    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'http:\n  port: 99999\nmqtt:\n  topics:\n    telemetry: [no-machine-level]\n');
    const r = run(['config', 'check', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('VGL_CONFIG_INVALID');
    expect(r.stderr).toMatch(/http\.port/);
    expect(r.stderr).toMatch(/mqtt\.topics\.telemetry\.0/);
  });

  it('config print: effective config with secrets masked', () => {
    const r = run(['config', 'print', '--json'], { VIGIL_MQTT_PASSWORD: 'hunter2', VIGIL_HTTP_PORT: '9999' });
    expect(r.status).toBe(0);
    const cfg = JSON.parse(r.stdout) as { http: { port: number }; mqtt: { password: string } };
    expect(cfg.http.port).toBe(9999);
    expect(cfg.mqtt.password).toBe('********');
    expect(r.stdout).not.toContain('hunter2');
    // As YAML, durations and sizes read as they are written, and the print is a valid config again.
    const yaml = run(['config', 'print']);
    expect(yaml.stdout).toMatch(/^ {2}reconnectMax: 30s$/m);
    expect(yaml.stdout).toMatch(/^ {2}maxPayloadBytes: 256KiB$/m);
    const file = path.join(tempDir(), 'printed.yaml');
    writeFileSync(file, yaml.stdout);
    expect(run(['config', 'check', file]).status).toBe(0);
  });

  it('models show of a missing version says so, without a raw ENOENT', () => {
    const r = run(['models', 'show', 'v0042']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/model version v0042 does not exist in .*`vigil models list` shows the versions there/);
    expect(r.stderr).not.toMatch(/ENOENT/);
  });

  it('federate: says what a coordinator lacks; config print masks the federation key', () => {
    const dir = tempDir();
    const file = path.join(dir, 'fed.yaml');
    writeFileSync(file, 'mqtt:\n  url: mqtt://127.0.0.1:1\nfederation:\n  id: plant\n');
    const noKinds = run(['federate', '-c', file]);
    expect(noKinds.status).toBe(1);
    expect(noKinds.stderr).toMatch(/name the kinds to coordinate/);
    const noKey = run(['federate', '-c', file, '--kind', 'pump']);
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toMatch(/VIGIL_FEDERATION_KEY/);
    const key = 'a-federation-key-that-is-long-enough-123';
    const printed = run(['config', 'print', '-c', file, '--json'], { VIGIL_FEDERATION_KEY: key });
    expect(printed.status).toBe(0);
    expect(printed.stdout).not.toContain(key);
    expect((JSON.parse(printed.stdout) as { federation: { key: string } }).federation.key).toBe('********');
  });

  it('start: runs on the embedded defaults and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir();
    const httpPort = await freePort();
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: String(httpPort), VIGIL_MQTT_PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitForReady(httpPort);
    const status = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/status`)).json()) as {
      broker: { mode: string };
      store: { kind: string };
    };
    expect(status.broker.mode).toBe('embedded');
    expect(status.store.kind).toBe('sqlite');
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    expect(readdirSync(dataDir).sort()).toEqual(expect.arrayContaining(['journal', 'sensors.db', 'vigil.db']));
  });

  it('start: refuses an invalid environment with exit 2', () => {
    const r = run(['start'], { VIGIL_HTTP_PORT: 'eighty' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/http\.port.*VIGIL_HTTP_PORT/);
  });
});

describe('vigil CLI against a running daemon', () => {
  it('token create, then status and alerts list/ack/resolve with that token', async () => {
    const made = run(['token', 'create', '--name', 'ana', '--role', 'operator']);
    expect(made.status).toBe(0);
    const token = /^ {2}(vgl_\S+)$/m.exec(made.stdout)![1]!;
    const sha256 = /sha256: '([0-9a-f]{64})'/.exec(made.stdout)![1]!;
    const { daemon } = await startTestDaemon({ api: { anonymousRead: false, tokens: [{ name: 'ana', role: 'operator', sha256 }] } });
    try {
      const url = daemon.httpUrl;
      daemon.stages.alerts.store.open(
        {
          machine: { site: 'p', line: 'l', machine: 'press-3' },
          kind: 'machine_stale',
          severity: 'warning',
          message: 'no data from press-3',
          details: {},
        },
        Date.now(),
      );
      const denied = await runCli(['alerts', 'list', '--url', url]);
      expect(denied.status).toBe(1);
      expect(denied.stderr).toMatch(/VGL_UNAUTHORIZED/);
      // Without a token, the CLI says how to get one and where it goes.
      const ackDenied = await runCli(['alerts', 'ack', '1', '--url', url]);
      expect(ackDenied.status).toBe(1);
      expect(ackDenied.stderr).toMatch(/vigil token create --name <you> --role operator.*api\.tokens.*--token <token> or VIGIL_TOKEN/s);
      const env = { ...process.env, VIGIL_TOKEN: token };
      const list = await runCli(['alerts', 'list', '--url', url], env);
      expect(list.status, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/#1 +open +warning +press-3 +machine_stale +no data from press-3/);
      const ack = await runCli(['alerts', 'ack', '1', '--note', 'cable checked', '--url', url], env);
      expect(ack.stdout).toMatch(/#1 +acknowledged/);
      expect(daemon.stages.alerts.store.get(1)!.acknowledged).toMatchObject({ by: 'ana', note: 'cable checked' });
      const again = await runCli(['alerts', 'ack', '1', '--url', url], env);
      expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/VGL_CONFLICT/)]);
      expect((await runCli(['alerts', 'resolve', '1', '--url', url], env)).stdout).toMatch(/#1 +resolved/);
      expect((await runCli(['alerts', 'list', '--url', url], env)).stdout).toMatch(/no unresolved alerts/);
      const status = await runCli(['status', '--url', url], env);
      expect(status.stdout).toMatch(/model: none yet/);
      expect(status.stdout).toMatch(/alerts: 0 open, 0 acknowledged/);
    } finally {
      await daemon.stop();
    }
  });
});
