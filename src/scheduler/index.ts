/**
 * The energy-aware scheduler as the composition root, the API and the command line see it: its
 * builder and config, its decisions, the energy accountant, the week simulation and carbon files.
 */
export { buildScheduler, type BuiltScheduler } from './build.js';
export { checkSchedule, resolveSchedule, type ScheduleConfig, ScheduleSchema } from './config.js';
export type { EnergyAccountant } from './energy/accountant.js';
export type { DecisionRecord, EnergyScheduler } from './scheduler.js';
export { schedulerSchema } from './schema.js';
export { replayDecisions, weekSvg } from './simulate.js';
export { FileCarbonSource } from './sources/carbon.js';
