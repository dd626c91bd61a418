/**
 * A kernel helper thread: its own instance of the LSTM kernels over the shared memory, woken through
 * Atomics on the control block for each slice of a call (calls are synchronous: tfjs asks for
 * gradients synchronously, so no message round trip fits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ARGS_AT, DONE, FAILED, FN, REQ } from './control-block.js';

interface HelperData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  kernels: string[];
}

const { module, memory, ctrl: shared, kernels } = workerData as HelperData;
const ctrl = new Int32Array(shared);
const args = new Uint32Array(shared, ARGS_AT * 4);
// Synchronous instantiation: the module is already compiled by the runtime (the DOM lib types omit this form).
const Instance = WebAssembly.Instance as unknown as new (m: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance;
const instance = new Instance(module, {
  env: {
    memory,
    abort() {
      throw new Error('kernel abort');
    },
  },
});
const fns = kernels.map((k) => instance.exports[k] as (...a: number[]) => void);
parentPort!.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, REQ, seen);
  seen = Atomics.load(ctrl, REQ);
  const fn = ctrl[FN]!;
  if (fn < 0) break;
  try {
    fns[fn]!(...args.subarray(0, ctrl[FN + 2]));
    ctrl[FAILED] = 0;
  } catch {
    ctrl[FAILED] = 1;
  }
  Atomics.store(ctrl, DONE, seen);
  Atomics.notify(ctrl, DONE);
}
