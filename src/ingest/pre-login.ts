import type { Socket } from 'node:net';

export interface PreLoginLimits {
  /** Connections that have not logged in yet, from all addresses together. */
  maxConnections: number;
  /** Of those, from one address. */
  maxPerAddress: number;
  /** A connection that has not logged in by then (milliseconds) is closed. */
  timeout: number;
}

export type PreLoginRefusal = 'too_many_unauthenticated' | 'login_timeout';

interface Pending {
  address: string;
  timer: NodeJS.Timeout;
}

/**
 * The embedded broker's connections that have not authenticated yet: capped in number, overall and
 * per source address, and each given a deadline. What such a connection may hold is bounded by the
 * pre-login packet limit (PacketSizeGuard), so these caps bound the memory that clients without
 * credentials can take, whatever they send and however slowly.
 */
export class PreLoginBounds {
  private readonly pending = new Map<Socket, Pending>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: PreLoginLimits,
    private readonly refuse: (reason: PreLoginRefusal, address: string, detail: string) => void,
  ) {}

  /** A new connection: false (and the socket destroyed) when it is over a cap. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    const fromAddress = this.perAddress.get(address) ?? 0;
    const l = this.limits;
    if (this.pending.size >= l.maxConnections || fromAddress >= l.maxPerAddress) {
      const detail =
        this.pending.size >= l.maxConnections
          ? `connection from ${address}: already ${l.maxConnections} connections that have not logged in`
          : `connection from ${address}: already ${l.maxPerAddress} connections from it that have not logged in`;
      this.refuse('too_many_unauthenticated', address, detail);
      socket.destroy();
      return false;
    }
    const timer = setTimeout(() => {
      this.refuse('login_timeout', address, `connection from ${address} did not log in within ${l.timeout} ms`);
      socket.destroy();
    }, l.timeout);
    timer.unref();
    this.pending.set(socket, { address, timer });
    this.perAddress.set(address, fromAddress + 1);
    socket.once('close', () => this.forget(socket));
    return true;
  }

  /** The client logged in: it no longer counts against the caps. */
  loggedIn(socket: Socket): void {
    this.forget(socket);
  }

  get count(): number {
    return this.pending.size;
  }

  private forget(socket: Socket): void {
    const p = this.pending.get(socket);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(socket);
    const n = (this.perAddress.get(p.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(p.address);
    else this.perAddress.set(p.address, n);
  }

  /** Closes every connection still waiting to log in (the broker stops). */
  clear(): void {
    for (const [socket, p] of this.pending) {
      clearTimeout(p.timer);
      socket.destroy();
    }
    this.pending.clear();
    this.perAddress.clear();
  }
}
