import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

/** Writes a file and fsyncs it, so a rename after it publishes complete content. */
export function writeFileDurable(file: string, data: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a directory's entries (a created or renamed file) survive power loss. */
export function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is still synced.
  }
}
