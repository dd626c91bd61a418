import type { Socket } from 'node:net';
import { SocketDuplex } from './socket-duplex.js';

/**
 * Sits between a client's socket and the embedded broker and reads only the fixed header of each
 * MQTT packet as the bytes go by: a packet announcing more than its limit drops the connection
 * before its body is buffered (aedes would otherwise collect up to 256 MB per packet, outside the V8
 * heap). Until the broker has let the client in (`loggedIn`), every packet must fit the small
 * pre-login limit: a CONNECT carries only ids, credentials and a will, and nothing a client sends
 * before it authenticates may cost more. The bytes themselves pass unchanged, chunk by chunk as the
 * socket read them — one at a time when the broker asks, as from the socket itself, so the broker
 * sees the same reads; nothing is copied.
 */
export class PacketSizeGuard extends SocketDuplex {
  /** Bytes of the current packet's body still to pass; -1 while reading a fixed header. */
  private bodyLeft = -1;
  /** Fixed header in progress: 0 = type byte next, then remaining-length bytes. */
  private headerBytes = 0;
  private length = 0;
  private multiplier = 1;
  /** Chunks read while the broker had not asked for more; the socket is paused meanwhile. */
  private readonly waiting: Buffer[] = [];
  private wanted = false;
  readonly remoteAddress: string | undefined;
  private limit: number;

  constructor(
    socket: Socket,
    private readonly limits: { beforeLogin: number; afterLogin: number },
    private readonly onOversize: (announced: number, limit: number, loggedIn: boolean) => void,
  ) {
    super(socket);
    this.remoteAddress = socket.remoteAddress;
    this.limit = Math.min(limits.beforeLogin, limits.afterLogin);
    socket.on('data', (chunk: Buffer) => {
      if (!this.scan(chunk)) return;
      if (this.wanted) {
        this.wanted = false;
        this.push(chunk);
      } else {
        this.waiting.push(chunk);
        socket.pause();
      }
    });
    socket.on('end', () => {
      this.ended = true;
      if (this.waiting.length === 0) this.push(null);
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** Follows packet boundaries through `chunk`; false (and the socket destroyed) at an oversized packet. */
  private scan(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.bodyLeft = -1;
        continue;
      }
      if (this.headerBytes === 0) {
        // The type byte; the remaining length follows.
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        i++;
        continue;
      }
      const b = chunk[i++]!;
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.headerBytes++;
      if (b & 0x80) {
        // More than four length bytes is not MQTT; the broker's parser refuses it.
        if (this.headerBytes > 5) this.headerBytes = 0;
        continue;
      }
      this.headerBytes = 0;
      if (this.length > this.limit) {
        this.onOversize(this.length, this.limit, this.isLoggedIn);
        this.socket.destroy();
        this.destroy();
        return false;
      }
      this.bodyLeft = this.length === 0 ? -1 : this.length;
    }
    return true;
  }

  private ended = false;
  private isLoggedIn = false;

  /** The broker authenticated the client: from the next packet on, the full packet limit applies. */
  loggedIn(): void {
    this.isLoggedIn = true;
    this.limit = this.limits.afterLogin;
  }

  override _read(): void {
    const next = this.waiting.shift();
    if (next) {
      this.push(next);
      if (this.waiting.length === 0 && this.ended) this.push(null);
      return;
    }
    this.wanted = true;
    this.socket.resume();
  }
}
