import type { MachineRef } from './types.js';

/**
 * A protocol's word that machines went offline or came back (Sparkplug DEATH/BIRTH): not silence
 * to alert on machine by machine, but one known state of their edge node or device.
 */
export interface PresenceChange {
  online: boolean;
  machines: MachineRef[];
  /** What went offline or came back, e.g. `plant1/edge-7` or `plant1/edge-7/press-3`. */
  source: string;
  cause: string;
  at: number;
}
