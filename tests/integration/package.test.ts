/**
 * The npm package holds everything its code needs: packed, laid out as npm installs it (the package
 * under node_modules/vigil, its dependencies beside it — linked from this checkout's node_modules, so
 * no network is needed), `vigil start` runs from it and serves the status page.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib/services.js';
import { tempDir } from '../support/fixtures.js';
import { waitForReady } from '../support/influx.js';

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('the npm package', () => {
  it('installs, starts and serves the status page from its own files', async () => {
    const root = tempDir('vigil-pack-');
    // Built by `npm test` already; --ignore-scripts skips prepack's rebuild.
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', root], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const modules = path.join(root, 'app', 'node_modules');
    const pkg = path.join(modules, 'vigil');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(root, tarball), '-C', pkg, '--strip-components=1']);
    for (const dep of readdirSync('node_modules'))
      if (dep !== '.bin' && dep !== 'vigil') symlinkSync(path.resolve('node_modules', dep), path.join(modules, dep));
    // The page's files are built into dist/ui; no sources are shipped.
    expect(readdirSync(pkg).sort()).toEqual(['README.md', 'deploy', 'dist', 'docs', 'package.json', 'simulators']);
    expect(readdirSync(path.join(pkg, 'dist', 'ui'))).toContain('index.html');

    const http = await freePort();
    const child = spawn(process.execPath, [path.join(pkg, 'dist/src/cli.js'), 'start'], {
      cwd: path.join(root, 'app'),
      env: {
        ...process.env,
        VIGIL_DATA_DIR: path.join(root, 'data'),
        VIGIL_HTTP_PORT: String(http),
        VIGIL_MQTT_PORT: String(await freePort()),
        VIGIL_MODELS_DIR: path.join(root, 'models'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForReady(http).catch((err: Error) => {
      throw new Error(`${err.message}; stderr: ${stderr.slice(0, 2000)}`);
    });
    const page = await fetch(`http://127.0.0.1:${http}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<title>[^<]*Vigil/);
    for (const asset of ['/ui/app.js', '/ui/views.js', '/ui/vendor/uPlot.iife.min.js'])
      expect((await fetch(`http://127.0.0.1:${http}${asset}`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${http}/api/v1/status`)).status).toBe(200);
    // The simulator and the demo's scenario are in the package too.
    const help = execFileSync(process.execPath, [path.join(pkg, 'dist/src/cli.js'), 'simulate', '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/Usage: vigil simulate/);
  });
});
