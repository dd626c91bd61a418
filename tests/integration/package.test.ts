/**
 * The npm package holds everything its code needs: packed, laid out as npm installs it (the package
 * under node_modules/vigil, its dependencies beside it — linked from this checkout's node_modules, so
 * no network is needed), `vigil start` runs from it and serves the status page.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
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
    expect(readdirSync(pkg).sort()).toEqual(['README.md', 'deploy', 'dist', 'docs', 'native', 'package.json', 'scripts', 'simulators']);
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

  it('installs with npm where no C++ compiler is on PATH, saying why once, and runs on the WebAssembly kernels', () => {
    const root = tempDir('vigil-nocc-');
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', root], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const app = path.join(root, 'app');
    mkdirSync(app);
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'plant-gateway', version: '1.0.0', private: true, dependencies: { vigil: `file:../${tarball}` } }),
    );
    // The dependencies already installed here (hard links: nothing to fetch, nothing rebuilt), then a real `npm install`.
    try {
      execFileSync('cp', ['-al', path.resolve('node_modules'), path.join(app, 'node_modules')], { stdio: 'pipe' });
    } catch {
      // Hard links cannot cross file systems (a temp dir elsewhere): a plain copy then.
      execFileSync('rm', ['-rf', path.join(app, 'node_modules')]);
      execFileSync('cp', ['-a', path.resolve('node_modules'), path.join(app, 'node_modules')]);
    }
    // A PATH with node and a shell only: no c++, g++, cc or make.
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    symlinkSync('/bin/sh', path.join(bin, 'sh'));
    const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    const env = { HOME: process.env.HOME ?? root, PATH: bin, npm_config_update_notifier: 'false' };
    const install = spawnSync(
      process.execPath,
      [npmCli, 'install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'],
      { cwd: app, env, encoding: 'utf8' },
    );
    const output = `${install.stdout}${install.stderr}`;
    expect(install.status, output).toBe(0);
    expect(output.match(/native LSTM kernels not built \(no c\+\+ or make on PATH/g), output).toHaveLength(1);
    const pkg = path.join(app, 'node_modules', 'vigil');
    expect(readFileSync(path.join(pkg, 'native', 'build', 'unavailable.txt'), 'utf8')).toMatch(/^no c\+\+ or make on PATH/);
    const kernels = execFileSync(process.execPath, [path.join(pkg, 'dist/src/cli.js'), 'kernels'], { cwd: app, env, encoding: 'utf8' });
    expect(kernels).toMatch(/^native: native LSTM kernels unavailable: no c\+\+ or make on PATH/m);
    expect(kernels).toMatch(/^uses: wasm \((relaxed-simd|simd), \d+ threads?\); native LSTM kernels unavailable: no c\+\+/m);
  });
});
