/**
 * TensorFlow.js backend selection at run time. The native packages cannot be dependencies (their
 * install downloads libtensorflow), so they are loaded only when present: tfjs-node-gpu on a CUDA
 * gateway, else tfjs-node, else the WebAssembly backend, else pure JS.
 */
export type TF = typeof import('@tensorflow/tfjs');
export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

export interface LoadedTf {
  tf: TF;
  /** The backend actually active, e.g. "tensorflow" (native), "wasm" or "cpu". */
  backend: string;
  /** Which package provides it. */
  provider: Exclude<BackendPreference, 'auto'>;
  /** Why preferred providers were skipped. */
  skipped: string[];
}

const NOISE = [/looks like you are running TensorFlow\.js in Node\.js/, /Orthogonal initializer is being called/, /^=+$/, /^\s*$/];

/** tfjs prints advice to the console that means nothing to an operator; keep it out of our output. */
export function quietTfWarnings(): void {
  const warn = console.warn.bind(console);
  const log = console.log.bind(console);
  const filter =
    (fn: (...a: unknown[]) => void) =>
    (...args: unknown[]) => {
      const text = args.map(String).join(' ');
      if (NOISE.some((re) => re.test(text.trim()))) return;
      fn(...args);
    };
  console.warn = filter(warn);
  console.log = filter(log);
}

async function importOptional(name: string): Promise<TF | null> {
  try {
    // A computed specifier: the package is optional and absent at build time.
    return (await import(name)) as TF;
  } catch {
    return null;
  }
}

export async function loadTf(preference: BackendPreference = 'auto'): Promise<LoadedTf> {
  const skipped: string[] = [];
  const order: Array<Exclude<BackendPreference, 'auto'>> =
    preference === 'auto' ? ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] : [preference];
  for (const provider of order) {
    if (provider === 'tfjs-node-gpu' || provider === 'tfjs-node') {
      const tf = await importOptional(`@tensorflow/${provider}`);
      if (tf) {
        await tf.ready();
        return { tf, backend: tf.getBackend(), provider, skipped };
      }
      skipped.push(`${provider}: not installed`);
      continue;
    }
    const tf = await import('@tensorflow/tfjs');
    if (provider === 'wasm') {
      try {
        await import('@tensorflow/tfjs-backend-wasm');
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return { tf, backend: tf.getBackend(), provider, skipped };
        }
        skipped.push('wasm: backend did not initialise');
      } catch (err) {
        skipped.push(`wasm: ${(err as Error).message}`);
      }
      continue;
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return { tf, backend: tf.getBackend(), provider: 'cpu', skipped };
  }
  throw new Error(`TensorFlow.js backend ${preference} is not available: ${skipped.join('; ')}`);
}
