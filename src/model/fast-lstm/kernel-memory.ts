/**
 * The kernels' memory: one growable WebAssembly.Memory (shared between threads for the wasm build, a
 * plain one for the native build, which reads it through its ArrayBuffer), handed out in 64-byte
 * aligned blocks by byte offset, with freed blocks reused.
 */
const PAGE = 65536;
const MAX_PAGES = 65536;

export class KernelMemory {
  readonly memory: WebAssembly.Memory;
  private freeList: Array<{ at: number; size: number }> = [];
  private top = 1024;
  private f32View: Float32Array;

  constructor(o: { shared: boolean; initialPages?: number }) {
    this.memory = new WebAssembly.Memory({ initial: o.initialPages ?? 64, maximum: MAX_PAGES, shared: o.shared });
    this.f32View = new Float32Array(this.memory.buffer);
  }

  get f32(): Float32Array {
    if (this.f32View.buffer.byteLength !== this.memory.buffer.byteLength) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }

  alloc(floats: number): number {
    const size = Math.ceil((floats * 4) / 64) * 64 || 64;
    const i = this.freeList.findIndex((b) => b.size >= size);
    if (i >= 0) {
      const block = this.freeList[i]!;
      if (block.size === size) this.freeList.splice(i, 1);
      else this.freeList[i] = { at: block.at + size, size: block.size - size };
      return block.at;
    }
    const at = this.top;
    const end = at + size;
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE);
      if (this.memory.buffer.byteLength / PAGE + pages > MAX_PAGES) throw new Error('fast LSTM memory exhausted (4 GiB)');
      this.memory.grow(pages);
    }
    this.top = end;
    return at;
  }

  free(at: number, floats: number): void {
    const size = Math.ceil((floats * 4) / 64) * 64 || 64;
    this.freeList.push({ at, size });
    this.freeList.sort((a, b) => a.at - b.at);
    // Coalesce neighbours, and give the tail back to the bump pointer.
    const merged: Array<{ at: number; size: number }> = [];
    for (const b of this.freeList) {
      const last = merged[merged.length - 1];
      if (last && last.at + last.size === b.at) last.size += b.size;
      else merged.push({ ...b });
    }
    const tail = merged[merged.length - 1];
    if (tail && tail.at + tail.size === this.top) {
      this.top = tail.at;
      merged.pop();
    }
    this.freeList = merged;
  }
}
