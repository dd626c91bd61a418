import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, maskSecrets } from '../../src/vigil-config.js';
import { VigilError } from '../../src/core/errors.js';
import { tempDir } from '../support/fixtures.js';

const dir = tempDir('vigil-config-');
function file(text: string): string {
  const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return f;
}
function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    return (err as VigilError).message;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('runs embedded with no config at all', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/vigil' });
    expect(c.mqtt.url).toBeUndefined();
    // The embedded broker trusts nobody by default: no users, no anonymous clients.
    expect(c.mqtt.embedded).toEqual({
      host: '127.0.0.1',
      port: 1883,
      users: [],
      allowAnonymous: false,
      maxPacketBytes: 1024 * 1024,
      // Before login: small packets, few connections, a short deadline, bounded password checks.
      preLogin: { maxConnectBytes: 16 * 1024, maxConnections: 128, maxPerAddress: 32, timeout: 10_000 },
      logins: { concurrency: 1, maxQueued: 32 },
      retained: { maxMessages: 1000, maxBytes: 64 * 1024 },
    });
    expect(c.store.kind).toBe('sqlite');
    expect(c.dataDir).toBe('/srv/vigil/data');
    expect(c.store.sqlite.path).toBe('/srv/vigil/data/sensors.db');
    expect(c.journal.dir).toBe('/srv/vigil/data/journal');
    expect(c.writer.flushInterval).toBe(200);
    expect(c.journal.maxBytes).toBe(512 * 1024 * 1024);
    expect(c.mqtt.topics.telemetry).toEqual(['vigil/{site}/{line}/{machine}/telemetry']);
  });

  it('refuses QoS 2 on the embedded broker, and reads anonymous access from the environment', () => {
    expect(() => loadConfig({ env: {}, file: file('mqtt:\n  qos: 2\n') })).toThrow(/mqtt\.qos: QoS 2 needs an external broker/);
    expect(loadConfig({ env: {}, file: file('mqtt:\n  url: mqtt://broker:1883\n  qos: 2\n') }).mqtt.qos).toBe(2);
    expect(loadConfig({ env: { VIGIL_MQTT_ALLOW_ANONYMOUS: 'true' } }).mqtt.embedded.allowAnonymous).toBe(true);
    expect(() => loadConfig({ env: { VIGIL_MQTT_ALLOW_ANONYMOUS: 'maybe' } })).toThrow(/mqtt\.embedded\.allowAnonymous/);
  });

  it('reads YAML with durations and sizes', () => {
    const c = loadConfig({
      env: {},
      file: file(
        'mqtt:\n  url: mqtts://broker:8883\n  username: vigil\njournal:\n  maxBytes: 1GiB\n  fsyncInterval: 2s\nwriter:\n  retryMax: 1m\n',
      ),
    });
    expect(c.mqtt.url).toBe('mqtts://broker:8883');
    expect(c.journal.maxBytes).toBe(1024 ** 3);
    expect(c.journal.fsyncInterval).toBe(2000);
    expect(c.writer.retryMax).toBe(60_000);
  });

  it('lets VIGIL_* variables override the file', () => {
    const c = loadConfig({
      file: file('http:\n  port: 9000\n'),
      env: {
        VIGIL_HTTP_PORT: '9100',
        VIGIL_MQTT_PORT: '2883',
        VIGIL_DATA_DIR: '/tmp/x',
        VIGIL_INFLUX_URL: 'http://db:8086',
        VIGIL_ALLOW_MACHINES: 'a, b',
      },
    });
    expect(c.http.port).toBe(9100);
    expect(c.mqtt.embedded.port).toBe(2883);
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.store.kind).toBe('influx');
    expect(c.store.influx.url).toBe('http://db:8086');
    expect(c.ingest.allowMachines).toEqual(['a', 'b']);
  });

  it('names the bad key, the value and where it came from', () => {
    const msg = problems(() => loadConfig({ env: { VIGIL_HTTP_PORT: 'eighty' } }));
    expect(msg).toMatch(/http\.port: .*"eighty".*\(env VIGIL_HTTP_PORT\)/);
  });

  it.each([
    ['mqtt:\n  qos: 3\n', /mqtt\.qos: .* \(one of 0, 1, 2\)/],
    ['htpp:\n  port: 1\n', /htpp: unknown setting/],
    ['http:\n  prot: 1\n', /http\.prot: unknown setting/],
    ['journal:\n  maxBytes: lots\n', /journal\.maxBytes: .*"lots"/],
    ['writer:\n  flushInterval: 5 parsecs\n', /writer\.flushInterval/],
    ['store:\n  kind: postgres\n', /store\.kind: .*one of "sqlite", "influx"/],
    ['mqtt:\n  topics:\n    telemetry: ["plant/{line}/telemetry"]\n', /mqtt\.topics\.telemetry\.0/],
    ['writer:\n  retryInitial: 1m\n  retryMax: 1s\n', /writer\.retryInitial: must not exceed writer\.retryMax/],
    ['journal:\n  maxBytes: 1MiB\n  segmentBytes: 8MiB\n', /journal\.segmentBytes: must not exceed/],
    // 144 steps of 10 min is a day; a RUL capped at 125 steps could never say more than that.
    ['learning:\n  step: 10m\n  horizon: 144\n', /learning\.rulCap: must exceed learning\.horizon \(144 steps\).*e\.g\. 288/],
  ])('refuses %j', (yaml, message) => {
    expect(problems(() => loadConfig({ env: {}, file: file(yaml) }))).toMatch(message);
  });

  it('lists every problem at once', () => {
    const msg = problems(() => loadConfig({ env: {}, file: file('http:\n  port: -1\nmqtt:\n  qos: 9\n') }));
    expect(msg).toMatch(/http\.port/);
    expect(msg).toMatch(/mqtt\.qos/);
  });

  it('reports unreadable and non-mapping files', () => {
    expect(() => loadConfig({ env: {}, file: path.join(dir, 'missing.yaml') })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ env: {}, file: file('a: [1,\n') })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ env: {}, file: file('- 1\n- 2\n') })).toThrow(/mapping of settings/);
  });

  it('checks the schedule and alert rules the schema alone cannot', () => {
    const msg = problems(() =>
      loadConfig({
        env: {},
        file: file(
          "schedule:\n  cron: 'every day'\n  timezone: Mars/Olympus\n  carbon: { file: a.csv, url: 'http://x' }\nalerts:\n  risk: { high: 0.4, low: 0.6 }\n",
        ),
      }),
    );
    expect(msg).toMatch(/schedule\.cron: not a cron expression/);
    expect(msg).toMatch(/schedule\.timezone: not an IANA time zone/);
    expect(msg).toMatch(/schedule\.carbon: give either file or url/);
    expect(msg).toMatch(/alerts\.risk\.low: must not exceed alerts\.risk\.high/);
    const ok = loadConfig({ env: {}, file: file("schedule:\n  cron: '*/5 * * * * *'\n  timezone: Europe/Berlin\n") });
    expect(ok.schedule.cron).toBe('*/5 * * * * *');
  });

  it('opens reads without a token only on a loopback address', () => {
    expect(loadConfig({ env: {} }).api.anonymousRead).toBe(true);
    expect(loadConfig({ env: { VIGIL_HTTP_HOST: '0.0.0.0' } }).api.anonymousRead).toBe(false);
    expect(loadConfig({ env: {}, file: file('http: { host: 0.0.0.0 }\napi: { anonymousRead: true }\n') }).api.anonymousRead).toBe(true);
  });

  it('masks webhook secrets when printed', () => {
    const c = loadConfig({
      env: {},
      file: file("notify:\n  webhooks: [{ name: ops, url: 'https://h/x', secret: super-secret-value-123 }]\n"),
    });
    expect(JSON.stringify(maskSecrets(c))).not.toContain('super-secret-value-123');
  });

  it('masks credentials inside URLs, configured header values and credential query parameters', () => {
    const c = loadConfig({
      env: {},
      file: file(
        [
          'mqtt: { url: "mqtts://vigil:mqtt-pass-1@broker:8883" }',
          'store: { kind: influx, influx: { url: "http://db:8086/?u=influx-user-8&p=influx-pass-2&pw=influx-pw-9&pass=influx-pass-10&pump=p1" } }',
          'notify: { webhooks: [{ name: ops, url: "https://hooks.example/x?token=hook-token-3&room=7", secret: whsec-secret-value-4 }] }',
          'schedule: { carbon: { url: "https://carbon.example/forecast?api_key=carbon-key-5&location=de", headers: { authorization: "Bearer carbon-bearer-6", x-tenant: plant-7 } } }',
        ].join('\n'),
      ),
    });
    const printed = JSON.stringify(maskSecrets(c));
    for (const secret of [
      'mqtt-pass-1',
      'influx-pass-2',
      'hook-token-3',
      'whsec-secret-value-4',
      'carbon-key-5',
      'carbon-bearer-6',
      'plant-7',
      'influx-user-8',
      'influx-pw-9',
      'influx-pass-10',
      'vigil:',
    ])
      expect(printed).not.toContain(secret);
    // What is not a credential stays readable.
    for (const kept of ['broker:8883', 'room=7', 'location=de', 'hooks.example', 'pump=p1']) expect(printed).toContain(kept);
    // A bad value is not echoed in full either.
    expect(() => loadConfig({ env: { VIGIL_MQTT_URL: 'http://u:leaky-pass@x' } })).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('leaky-pass') }),
    );
  });

  it('masks secrets when printed', () => {
    const c = loadConfig({ env: { VIGIL_MQTT_PASSWORD: 's3cret', VIGIL_INFLUX_PASSWORD: 'db-pass' } });
    const printed = JSON.stringify(maskSecrets(c));
    expect(printed).not.toContain('s3cret');
    expect(printed).not.toContain('db-pass');
    expect(printed).toContain('********');
  });
});

describe('shipped example configs', () => {
  const examples = path.resolve(import.meta.dirname, '../../deploy/config');
  it.each(readdirSync(examples).filter((f) => f.endsWith('.yaml')))('%s validates', (name) => {
    expect(() => loadConfig({ env: {}, file: path.join(examples, name) })).not.toThrow();
  });
});
