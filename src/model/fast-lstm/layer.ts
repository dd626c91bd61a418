/**
 * A tfjs layer that computes an LSTM with the fused kernels: the whole window forward is one kernel
 * call, the whole backward (BPTT) another, joined to tfjs's autodiff by tf.customGrad, so optimiser,
 * losses, dropout and model IO stay plain tfjs.
 *
 * It is a drop-in for tf.layers.lstm: same arguments, same weights (names, shapes, gate order i|f|c|o),
 * same initialisers, and it serialises as a stock "LSTM" — a model saved with it loads in any tfjs
 * without Vigil, and a stock model loads into it (see topology.ts).
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { TF } from '../backend.js';
import type { KernelRuntime } from './kernel-runtime.js';
import { LstmWorkspace } from './workspace.js';

export const FAST_LSTM_CLASS = 'VigilFastLSTM';

/** Stock LSTM options the kernels implement; anything else keeps the stock layer. */
export function unsupportedLstmOption(config: Record<string, unknown>): string | null {
  const units = Number(config.units);
  if (!Number.isInteger(units) || units <= 0) return 'units must be a positive integer';
  if (!LstmWorkspace.supports(units)) return `units ${units} is not a multiple of 4`;
  if (config.activation !== undefined && config.activation !== 'tanh') return `activation ${JSON.stringify(config.activation)}`;
  const ra = config.recurrentActivation ?? 'hardSigmoid';
  if (ra !== 'sigmoid' && ra !== 'hardSigmoid') return `recurrentActivation ${JSON.stringify(ra)}`;
  if (config.useBias === false) return 'useBias false';
  for (const flag of ['stateful', 'goBackwards', 'returnState'] as const) if (config[flag]) return flag;
  for (const rate of ['dropout', 'recurrentDropout'] as const) if (Number(config[rate] ?? 0) > 0) return `${rate} inside the LSTM`;
  for (const extra of [
    'kernelRegularizer',
    'recurrentRegularizer',
    'biasRegularizer',
    'kernelConstraint',
    'recurrentConstraint',
    'biasConstraint',
  ]) {
    if (config[extra] != null) return extra;
  }
  return null;
}

let active: { tf: TF; runtime: KernelRuntime; create: (args: Record<string, unknown>) => unknown } | null = null;

export function fastLstmRuntime(): KernelRuntime | null {
  return active?.runtime ?? null;
}

/** Registers the layer class with this tfjs instance; fast layers compute on `runtime`. */
export function registerFastLstm(tf: TF, runtime: KernelRuntime): void {
  if (active?.tf === tf) {
    active.runtime = runtime;
    return;
  }
  const Base = tf.layers.Layer as unknown as new (args: Record<string, unknown>) => LayerLike;

  class FastLstm extends Base {
    static className = FAST_LSTM_CLASS;
    readonly units: number;
    readonly returnSequences: boolean;
    readonly hardSigmoid: boolean;
    private readonly twin: StockLstm;
    private kernel: VariableLike | null = null;
    private recurrentKernel: VariableLike | null = null;
    private bias: VariableLike | null = null;
    private workspace: LstmWorkspace | null = null;
    private readonly op: (x: Tensor, k: Tensor, r: Tensor, b: Tensor) => Tensor;

    constructor(args: Record<string, unknown>) {
      super(args);
      const why = unsupportedLstmOption(args);
      if (why) throw new Error(`${FAST_LSTM_CLASS} cannot implement ${why}`);
      // A stock LSTM with the same arguments, never built: it parses and serialises the options.
      this.twin = tf.layers.lstm({ ...(args as object), name: this.name } as Parameters<TF['layers']['lstm']>[0]) as unknown as StockLstm;
      const cfg = this.twin.getConfig();
      this.units = Number(cfg.units);
      this.returnSequences = Boolean(cfg.returnSequences);
      this.hardSigmoid = cfg.recurrentActivation !== 'sigmoid';
      this.op = tf.customGrad(((x: Tensor, k: Tensor, r: Tensor, b: Tensor) => this.compute(x, k, r, b)) as never) as never;
    }

    override build(inputShape: number[] | number[][]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
      const features = shape[shape.length - 1]!;
      const cell = this.twin.cell;
      const g4 = 4 * this.units;
      this.kernel = this.addWeight('kernel', [features, g4], 'float32', cell.kernelInitializer);
      this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, g4], 'float32', cell.recurrentInitializer);
      this.bias = this.addWeight('bias', [g4], 'float32', cell.biasInitializer);
      if (cell.unitForgetBias) {
        // As the stock cell: the forget gate's bias starts at 1 (Jozefowicz et al.).
        const init = this.bias.read().dataSync() as Float32Array;
        const values = Float32Array.from(init);
        values.fill(1, this.units, 2 * this.units);
        const start = tf.tensor1d(values);
        this.bias.write(start);
        start.dispose();
      }
      this.built = true;
    }

    override computeOutputShape(inputShape: number[] | number[][]): number[] {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
      return this.returnSequences ? [shape[0]!, shape[1]!, this.units] : [shape[0]!, this.units];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return this.op(x, this.kernel!.read(), this.recurrentKernel!.read(), this.bias!.read());
    }

    override getConfig(): Record<string, unknown> {
      return { ...this.twin.getConfig(), name: this.name, trainable: this.trainable };
    }

    override dispose(): unknown {
      this.workspace?.release();
      this.workspace = null;
      return super.dispose();
    }

    private compute(x: Tensor, k: Tensor, r: Tensor, b: Tensor): { value: Tensor; gradFunc: (dy: Tensor) => Tensor[] } {
      if (!active) throw new Error(`${FAST_LSTM_CLASS}: kernels are not loaded`);
      this.workspace ??= new LstmWorkspace(active.runtime, this.hardSigmoid);
      const ws = this.workspace;
      const [batch, steps, features] = x.shape as [number, number, number];
      const shape = { batch, steps, features, units: this.units };
      const xData = x.dataSync() as Float32Array;
      const weights = { kernel: k.dataSync() as Float32Array, recurrent: r.dataSync() as Float32Array, bias: b.dataSync() as Float32Array };
      const { output, generation } = ws.forward(xData, weights, shape, this.returnSequences);
      const value = this.returnSequences ? tf.tensor3d(output, [batch, steps, this.units]) : tf.tensor2d(output, [batch, this.units]);
      const gradFunc = (dy: Tensor): Tensor[] => {
        // Another forward (a prediction, another batch) may have reused the buffers since: redo ours.
        if (ws.generation !== generation) ws.forward(xData, weights, shape, this.returnSequences);
        const g = ws.backward(dy.dataSync() as Float32Array, weights, this.returnSequences);
        return [
          tf.tensor3d(g.dx, [batch, steps, features]),
          tf.tensor2d(g.kernel, k.shape as [number, number]),
          tf.tensor2d(g.recurrent, r.shape as [number, number]),
          tf.tensor1d(g.bias),
        ];
      };
      return { value, gradFunc };
    }
  }

  tf.serialization.registerClass(FastLstm as never);
  active = { tf, runtime, create: (args) => new FastLstm(args) };
}

/** A fast LSTM layer with tf.layers.lstm's arguments. Requires registerFastLstm first. */
export function fastLstm(args: Record<string, unknown>): import('@tensorflow/tfjs').layers.Layer {
  if (!active) throw new Error(`${FAST_LSTM_CLASS}: kernels are not loaded`);
  return active.create(args) as import('@tensorflow/tfjs').layers.Layer;
}

// The slices of tfjs's layer internals used here (not all are in its public typings).
interface VariableLike {
  read(): Tensor;
  write(t: Tensor): void;
}
interface LayerLike {
  name: string;
  trainable: boolean;
  built: boolean;
  addWeight(name: string, shape: number[], dtype: 'float32', initializer: unknown): VariableLike;
  build(inputShape: number[] | number[][]): void;
  computeOutputShape(inputShape: number[] | number[][]): number[];
  call(inputs: Tensor | Tensor[], kwargs: unknown): Tensor | Tensor[];
  getConfig(): Record<string, unknown>;
  dispose(): unknown;
}
interface StockLstm {
  getConfig(): Record<string, unknown>;
  cell: { kernelInitializer: unknown; recurrentInitializer: unknown; biasInitializer: unknown; unitForgetBias?: boolean };
}
