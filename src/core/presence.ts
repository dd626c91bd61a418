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

/**
 * Where presence changes go: the protocol that learns them (the Sparkplug host) reports here, and the
 * stage that acts on them (alerts) listens. Built before both, so neither is patched after it is made.
 */
export class PresenceFeed {
  private readonly listeners: Array<(change: PresenceChange) => void> = [];

  listen(listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener);
  }

  report(change: PresenceChange): void {
    for (const l of this.listeners) l(change);
  }
}
