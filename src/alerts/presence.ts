import type { PresenceChange } from '../core/presence.js';
import type { AlertEngine } from './engine.js';
import type { QualityMonitor } from './quality.js';

const LISTED = 20;

/**
 * A DEATH (Sparkplug) is a known state, not silence: its machines leave data-quality watching, so
 * they raise no stale alert each, and one machine_offline alert stands for the edge node or device
 * until its BIRTH resolves it.
 */
export function onPresence(c: PresenceChange, engine: AlertEngine, quality: QualityMonitor): void {
  const first = c.machines[0];
  if (!first) return;
  const store = engine.store;
  const existing = store.findUnresolved(first.machine, 'machine_offline', c.source);
  if (!c.online) {
    for (const m of c.machines) quality.forget(m.machine);
    if (existing) return;
    const ids = c.machines.map((m) => m.machine);
    const shown = ids.slice(0, LISTED).join(', ') + (ids.length > LISTED ? `, … (${ids.length - LISTED} more)` : '');
    const what = c.cause === 'NDEATH' ? 'edge node' : 'device';
    engine.emit(
      'event',
      store.open(
        {
          machine: first,
          kind: 'machine_offline',
          subject: c.source,
          severity: 'warning',
          message: `${what} ${c.source} offline (${c.cause}): ${ids.length === 1 ? `machine ${shown}` : `${ids.length} machines: ${shown}`}`,
          details: { source: c.source, cause: c.cause, machines: ids.slice(0, 1000), count: ids.length },
        },
        c.at,
      ),
    );
  } else if (existing) {
    engine.emit(
      'event',
      store.resolve(existing.id, { by: 'vigil', resolution: 'recovered', note: `${c.source} back online (${c.cause})` }, c.at),
    );
  }
}
