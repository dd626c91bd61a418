import type { EpochProgress } from './fit.js';
import type { AnyModelMeta } from '../registry/index.js';

export type TrainingProgress =
  | { phase: 'loading' | 'preparing' | 'evaluating' | 'saving'; message: string }
  | ({ phase: 'training' } & EpochProgress)
  | { phase: 'batch'; done: number; total: number; epoch: number; epochs: number; member: number; members: number };

export interface TrainingResult {
  cancelled: boolean;
  meta: AnyModelMeta | null;
}

export class NotEnoughDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotEnoughDataError';
  }
}
