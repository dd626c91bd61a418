/**
 * Features as later stages see them: aligning readings to a grid, normalisation, labels, windows,
 * splits, operating regimes and the kinds present in the store.
 */
export { alignToGrid, type Segment } from './align.js';
export { groupByKind, type KindGroup, KindsOfStore, storeKinds } from './kinds.js';
export { labelSteps } from './labels.js';
export {
  applyNormalisation,
  borrowStatistics,
  channels,
  fitNormalisation,
  inputNames,
  negligible,
  type Normalisation,
  type RegimeFitOptions,
  smoothingWarmupSteps,
} from './normalize.js';
export { regimeOfValues } from './regimes.js';
export { endsInFailure, failedMachines, heldOutFailures, type LabelledSegment, type Split, splitByMachineAndTime } from './split.js';
export { buildWindows, concatWindows, lastWindow, oversamplePositives, type WindowSet } from './windows.js';
