import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A stream in front of a socket: what is written goes to the socket as it is made (done at once
 * unless the socket is full), ending and destroying it end and destroy the socket. Subclasses decide
 * what of the socket's bytes they push on to the reader.
 */
export abstract class SocketDuplex extends Duplex {
  constructor(protected readonly socket: Socket) {
    super({ allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.socket.cork();
    let room = true;
    for (const { chunk } of chunks) room = this.socket.write(chunk);
    this.socket.uncork();
    if (room) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    callback(err);
  }
}
