#!/usr/bin/env node
// Builds the native LSTM kernels (native/) with node-gyp: at `npm install` and as part of `npm run build`.
// It never fails the install: where the addon cannot build (no C++ compiler, make or Python, no Node
// headers), it says why once, writes the reason to native/build/unavailable.txt, and Vigil trains and
// scores on the WebAssembly kernels instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'native');
const build = path.join(dir, 'build');
const reasonFile = path.join(build, 'unavailable.txt');

function nodeGyp() {
  // npm tells its lifecycle scripts where its own node-gyp is; outside npm, look beside npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.resolve(path.dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

// Node's headers: npm's `nodedir` setting, else the ones installed beside this node (Debian, nodejs.org tarballs),
// so that nothing is downloaded.
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function unavailable(reason) {
  mkdirSync(build, { recursive: true });
  writeFileSync(reasonFile, `${reason}\n`);
  console.warn(`vigil: native LSTM kernels not built (${reason}); training and scoring use the WebAssembly kernels`);
  process.exit(0);
}

if (process.env.VIGIL_NATIVE === '0') unavailable('VIGIL_NATIVE=0');
const gyp = nodeGyp();
if (!gyp) unavailable('node-gyp not found');
const missing = ['c++', 'make'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missing.length > 0) unavailable(`no ${missing.join(' or ')} on PATH (apt-get install g++ make)`);
rmSync(reasonFile, { force: true });
// Incremental where a build exists (npm run build), a clean one at install.
const configured = existsSync(path.join(build, 'Makefile'));
const nodedir = nodeDir();
const args = [gyp, configured ? 'build' : 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : []), '--jobs', 'max'];
const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`
    .split('\n')
    .filter((l) => /error/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l));
  unavailable(`node-gyp failed: ${(lines[0] ?? r.error?.message ?? `exit ${r.status}`).trim()}`);
}
