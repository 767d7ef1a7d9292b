// A buffer pool that reuses GPU memory across steps.
//
// Buffers are handed out in size classes (powers of two split into quarters, at least 256 B), so a
// buffer freed by one step serves a similar request in the next without a createBuffer call.
// NOTE: a released buffer may still be read by commands that are encoded but not yet submitted.
// It therefore waits in `pending` until the engine submits its batch (`afterSubmit`): otherwise a
// queue.writeBuffer into the recycled buffer would land *before* those commands run.
//
// Freeing. Idle buffers (free lists) are destroyed by trim(): on request, and whenever a new
// buffer would take the pool past its byte budget. The budget is unlimited until the device first
// reports an out-of-memory error for a pool allocation (WebGPU reports it asynchronously, through
// an error scope, so the failed allocation cannot be retried in place): the engine then calls
// outOfMemory(), which trims every idle buffer and lowers the budget to what was live, and the
// error reaches the caller as an OutOfMemoryError (the step can be retried: the pool now frees
// idle buffers before it grows). A request that cannot fit the budget even after a trim throws
// OutOfMemoryError at once, naming the tensor, instead of failing later on the device.

import { GpuError } from './errors.ts';

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
  /** Idle buffers destroyed by trim() so far. */
  destroyed: number;
  /** Byte budget (Infinity until set or learned from an out-of-memory error). */
  budget: number;
}

/** The device (or the pool's budget) has no room for a buffer. */
export class OutOfMemoryError extends GpuError {
  constructor(where: string, message: string) {
    super(where, 'out-of-memory', message, 'use a shorter sequence, a smaller batch, or LoRA on a frozen 16-bit base; idle pool buffers were freed, so retrying the step may succeed');
  }
}

/** Rounds a byte count up to its size class. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const quarter = p / 4;
  return p + Math.ceil((bytes - p) / quarter) * quarter;
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

export class BufferPool {
  private readonly freeLists = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  /** Buffers whose allocation failed (invalid objects): destroyed on release, never reused. */
  private readonly failed = new WeakSet<GPUBuffer>();
  private stats: PoolStats = { inUse: 0, free: 0, peak: 0, created: 0, destroyed: 0, budget: Infinity };

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
      // Growing past the budget: give back idle buffers of other sizes first.
      if (this.stats.inUse + this.stats.free + size > this.stats.budget) this.trim();
      if (this.stats.inUse + size > this.stats.budget) {
        throw new OutOfMemoryError(label, `${mib(size)} more would exceed the ${mib(this.stats.budget)} this device could hold (${mib(this.stats.inUse)} in live tensors)`);
      }
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
      if (this.failed.has(buf)) {
        buf.destroy();
        continue;
      }
      this.stats.free += size;
      let list = this.freeLists.get(size);
      if (!list) this.freeLists.set(size, (list = []));
      list.push(buf);
    }
    this.pending = [];
  }

  /**
   * Destroys every idle buffer (free lists; not those waiting for a submit) and returns the bytes
   * given back. Submitted work that still reads one finishes first (WebGPU defers the destroy).
   */
  trim(): number {
    let bytes = 0;
    for (const [size, list] of this.freeLists) {
      for (const b of list) b.destroy();
      bytes += size * list.length;
      this.stats.destroyed += list.length;
    }
    this.freeLists.clear();
    this.stats.free = 0;
    return bytes;
  }

  /** Caps the pool at `bytes` (Infinity: no cap). Idle buffers are trimmed before it is passed. */
  setBudget(bytes: number): void {
    this.stats.budget = bytes;
  }

  /**
   * The device reported out-of-memory for the allocation of `buf`: never reuse it, free every idle
   * buffer, and cap the pool at what the device held when it failed, so later growth trims first.
   * Returns a description for the error message.
   */
  outOfMemory(buf: GPUBuffer): string {
    this.failed.add(buf);
    const held = this.stats.inUse - (this.sizes.get(buf) ?? 0) + this.stats.free;
    const freed = this.trim();
    this.stats.budget = Math.min(this.stats.budget, held);
    return `the device held ${mib(held)} in pool buffers when it failed; ${mib(freed)} of idle buffers were freed and the pool now stays within ${mib(this.stats.budget)}`;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
