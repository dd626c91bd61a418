/**
 * The command line's command groups, each registered on the root program by `cli.ts`.
 */
export { registerDemoCommand } from './demo.js';
export { registerEnergyCommands } from './energy.js';
export { registerFederateCommand } from './federate.js';
export { registerLearningCommands } from './learning.js';
export { registerOperateCommands } from './operate.js';
