import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startTestDaemon } from '../support/daemon.js';

const deploy = path.resolve('deploy');
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('deployment kit', () => {
  it('compose file parses, runs Mosquitto, InfluxDB and Vigil, and mounts files that exist', () => {
    const doc = YAML.parse(readFileSync(path.join(deploy, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[] }>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(doc.services).sort()).toEqual(['influxdb', 'mosquitto', 'vigil']);
    expect(doc.services.influxdb!.image).toMatch(/^influxdb:1\.8/);
    const build = doc.services.vigil!.build!;
    expect(existsSync(path.resolve(deploy, build.context, build.dockerfile))).toBe(true);
    for (const svc of Object.values(doc.services)) {
      for (const v of svc.volumes ?? []) {
        const [src] = v.split(':');
        if (src!.startsWith('.')) expect(existsSync(path.resolve(deploy, src!)), v).toBe(true);
        else expect(doc.volumes, v).toHaveProperty([src!]);
      }
    }
  });

  it('Dockerfiles build from files that exist, run as a non-root user and check /healthz', () => {
    for (const name of ['Dockerfile', 'Dockerfile.gpu']) {
      const text = readFileSync(path.join(deploy, 'docker', name), 'utf8');
      expect(text).toMatch(/^USER (node|vigil)$/m);
      expect(text).toMatch(/HEALTHCHECK[\s\S]*?\/healthz/);
      for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
        for (const src of m[1]!.split(' ')) expect(existsSync(path.resolve(src)), `${name}: ${src}`).toBe(true);
    }
  });

  it.skipIf(!hasSystemdAnalyze)('the systemd unit passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', path.join(deploy, 'systemd', 'vigil.service')], { encoding: 'utf8' });
    // verify exits 0 with warnings about units it cannot see on this machine (node, network); errors about the file itself fail.
    expect(r.stderr).not.toMatch(/vigil\.service:\d+: /);
    expect(readFileSync(path.join(deploy, 'systemd', 'vigil.service'), 'utf8')).toMatch(
      /ProtectSystem=strict[\s\S]*ReadWritePaths=\/var\/lib\/vigil/,
    );
  });

  it('the Grafana dashboard parses, queries the InfluxDB measurements Vigil writes and metrics Vigil exports', async () => {
    const dash = JSON.parse(readFileSync(path.join(deploy, 'grafana', 'vigil-dashboard.json'), 'utf8')) as {
      panels: Array<{ targets: Array<{ expr?: string; query?: string }> }>;
    };
    // What a running daemon exports: every stage's report, as built by the composition root.
    const { daemon } = await startTestDaemon();
    try {
      const exported = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
      for (const t of dash.panels.flatMap((p) => p.targets)) {
        if (t.expr) for (const name of t.expr.match(/vigil_[a-z_]+/g) ?? []) expect(exported, name).toContain(`# TYPE ${name} `);
        if (t.query) expect(t.query).toMatch(/FROM "(telemetry|events)"/);
      }
    } finally {
      await daemon.stop();
    }
  });
});
