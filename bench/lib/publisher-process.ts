/** The publisher in a child process, so its CPU and memory stay out of the measured process's figures. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StreamOptions, StreamResult } from './publisher.js';

const worker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../publish-worker.js');

/** `started` resolves with the time the child began publishing, `done` with its result. */
export function publisherProcess(options: StreamOptions): { started: Promise<number>; done: Promise<StreamResult> } {
  const child = spawn(process.execPath, [worker, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let resolveStart!: (t: number) => void;
  const started = new Promise<number>((r) => (resolveStart = r));
  const done = new Promise<StreamResult>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as { ready?: boolean; at?: number } & StreamResult;
        buf = buf.slice(nl + 1);
        if (line.ready) resolveStart(line.at!);
        else resolve(line);
      }
    });
    child.once('exit', (code) => (code ? reject(new Error(`publisher exited with ${code}`)) : undefined));
  });
  return { started, done };
}
