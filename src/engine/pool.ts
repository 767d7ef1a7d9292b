// A buffer pool that reuses GPU memory across steps.
//
// Buffers are handed out in size classes (powers of two split into quarters, at least 256 B), so a
// buffer freed by one step serves a similar request in the next without a createBuffer call.
// NOTE: a released buffer may still be read by commands that are encoded but not yet submitted.
// It therefore waits in `pending` until the engine submits its batch (`afterSubmit`): otherwise a
// queue.writeBuffer into the recycled buffer would land *before* those commands run.

/** Usage of every tensor buffer: storage, plus copy in/out for uploads, readbacks and clones. */
export const TENSOR_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

export interface PoolStats {
  /** Bytes in buffers currently held by live tensors. */
  inUse: number;
  /** Bytes in free buffers kept for reuse. */
  free: number;
  /** Largest `inUse + free` seen: the pool's peak GPU footprint. */
  peak: number;
  /** createBuffer calls so far (a steady-state step should add none). */
  created: number;
}

/** Rounds a byte count up to its size class. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const quarter = p / 4;
  return p + Math.ceil((bytes - p) / quarter) * quarter;
}

export class BufferPool {
  private readonly freeLists = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private stats: PoolStats = { inUse: 0, free: 0, peak: 0, created: 0 };

  constructor(
    private readonly maxBufferSize: number,
    /** Called to create a buffer, so the engine can wrap it in an out-of-memory error scope. */
    private readonly create: (desc: GPUBufferDescriptor) => GPUBuffer,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(Math.max(4, bytes));
    const list = this.freeLists.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.free -= size;
    } else {
      // Class rounding may pass maxBufferSize; then allocate no more than the limit (or the exact
      // request, which createBuffer will reject with an out-of-memory/validation error we name).
      buf = this.create({ size: size <= this.maxBufferSize ? size : Math.max(bytes, this.maxBufferSize), usage: TENSOR_USAGE, label });
      this.stats.created++;
    }
    this.sizes.set(buf, size);
    buf.label = label;
    this.stats.inUse += size;
    this.stats.peak = Math.max(this.stats.peak, this.stats.inUse + this.stats.free);
    return buf;
  }

  /** Returns a buffer; it becomes reusable after the current batch is submitted. */
  release(buf: GPUBuffer): void {
    this.pending.push(buf);
  }

  /** The engine calls this right after queue.submit(). */
  afterSubmit(): void {
    for (const buf of this.pending) {
      const size = this.sizes.get(buf) ?? buf.size;
      this.stats.inUse -= size;
      this.stats.free += size;
      let list = this.freeLists.get(size);
      if (!list) this.freeLists.set(size, (list = []));
      list.push(buf);
    }
    this.pending = [];
  }

  /** Destroys every free buffer (e.g. between runs, or before a large allocation). */
  trim(): void {
    for (const list of this.freeLists.values()) for (const b of list) b.destroy();
    this.freeLists.clear();
    this.stats.free = 0;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
