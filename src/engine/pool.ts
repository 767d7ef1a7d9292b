// A buffer pool that reuses GPU memory within a command batch and across steps.
//
// Buffers are handed out in size classes (powers of two split into eighths, at least 256 B: at
// most 12.5 % above the request), so a buffer freed by one op serves a similar request of a later
// one without a createBuffer call.
//
// Reuse inside a batch. A buffer released while its batch is still being encoded may be read by
// commands already encoded (not yet submitted). It is `dirty` until the engine submits the batch
// (afterSubmit). A dirty buffer is safe for a tensor that only commands encoded *later* write —
// dispatch outputs, copies, the engine's in-batch staged uploads — because commands of one batch
// run in encoding order. It is NOT safe for a tensor filled by queue.writeBuffer: that write lands
// at the call, before every unsubmitted command, i.e. before the old readers. acquire(…, 'host')
// therefore takes clean buffers only (released before the last submit) — the engine's
// emptyForHost(); Engine.write() orders itself (in-batch copy, or a flush first), so ordinary
// tensors and uploads through it need no flag.
//
// Footprint. `peak` is the largest inUse + free (every buffer the pool holds). A class keeps as many
// buffers as it ever had live at once, so for a training step of fixed shapes the footprint is
// about the SUM of what the step's phases hold (weights, optimizer state, every gradient, every
// saved activation, the backward's temporaries: model/planner.ts), not their maximum at one
// instant, and steady-state steps create nothing. When a request would grow the pool past its
// high-water mark of live bytes (a new sequence length brings new classes), the pool first
//   - serves it from an idle buffer up to MAX_OVERSIZE times its class (a shorter sequence), else
//   - destroys cold idle buffers, oldest first: clean ones released before the last
//     WARM_FOOTPRINTS × footprint bytes of allocations (about a step: what a fixed-shape step needs
//     again is reused before it gets cold, so such steps never trade buffers back and forth), and
//   - lets the new buffer supersede one idle buffer at most MAX_OVERSIZE times smaller (a longer
//     sequence: what fitted the old buffer fits the new one).
// A budget trims every idle buffer, as a hard cap.
//
// Out of memory. The budget is unlimited until the device first reports an out-of-memory error
// for a pool allocation (WebGPU reports it asynchronously, through an error scope, so the failed
// allocation cannot be retried in place): the engine then calls outOfMemory(), which trims every
// idle buffer and lowers the budget to what was held, and the error reaches the caller as an
// OutOfMemoryError (the step can be retried: the pool now frees idle buffers before it grows). A
// request that cannot fit the budget even after a trim (and a flush, which makes dirty buffers
// clean) throws OutOfMemoryError at once, naming the tensor, instead of failing later on the device.

import { GpuError } from './errors.ts';

/** Usage of every tensor buffer: storage, plus copy in/out for uploads, readbacks and clones. */
export const TENSOR_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

export interface PoolStats {
  /** Bytes in buffers currently held by live tensors. */
  inUse: number;
  /** Bytes in free buffers kept for reuse (clean and dirty). */
  free: number;
  /** Largest `inUse + free` seen: the pool's peak GPU footprint. */
  peak: number;
  /** Largest `inUse` seen: the live tensors' peak, in size classes. */
  livePeak: number;
  /** createBuffer calls so far (a steady-state step should add none). */
  created: number;
  /** Idle buffers destroyed so far (trim(), growth past the high-water mark, the budget). */
  destroyed: number;
  /** Requests served by a buffer released earlier in the same (unsubmitted) batch. */
  reusedInBatch: number;
  /** Byte budget (Infinity until set or learned from an out-of-memory error). */
  budget: number;
}

/** Who fills a new buffer: commands encoded from now on ('gpu'), or queue.writeBuffer at the call ('host'). */
export type Writer = 'gpu' | 'host';

/** The device (or the pool's budget) has no room for a buffer. */
export class OutOfMemoryError extends GpuError {
  constructor(where: string, message: string) {
    super(where, 'out-of-memory', message, 'use a shorter sequence, a smaller batch, gradient checkpointing, or LoRA on a frozen 16-bit base; idle pool buffers were freed, so retrying the step may succeed');
  }
}

/** Size classes per power of two. */
const CLASSES_PER_OCTAVE = 8;
/**
 * An idle buffer is warm (kept when the pool grows) while fewer than this many times the pool's
 * footprint in bytes have been acquired since its release: about a training step of reuse.
 */
const WARM_FOOTPRINTS = 2;
/** A request that would grow the pool past its high-water mark may take an idle buffer up to this many times its class. */
const MAX_OVERSIZE = 1.5;

/** Rounds a byte count up to its size class: at least 256 B, powers of two split into eighths. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / CLASSES_PER_OCTAVE;
  return p + Math.ceil((bytes - p) / step) * step;
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

export class BufferPool {
  /** Clean idle buffers (released before the last submit) by size class. */
  private readonly clean = new Map<number, GPUBuffer[]>();
  /** Dirty idle buffers (released since the last submit) by size class: for GPU-written tensors only. */
  private dirty = new Map<number, GPUBuffer[]>();
  private dirtyBytes = 0;
  /** Failed allocations released in this batch: destroyed after the submit. */
  private failedPending: GPUBuffer[] = [];
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  /** The allocation clock (bytes acquired so far) when each idle buffer was released. */
  private readonly released = new WeakMap<GPUBuffer, number>();
  private clock = 0;
  /** Buffers whose allocation failed (invalid objects): destroyed on release, never reused. */
  private readonly failed = new WeakSet<GPUBuffer>();
  private stats: PoolStats = { inUse: 0, free: 0, peak: 0, livePeak: 0, created: 0, destroyed: 0, reusedInBatch: 0, budget: Infinity };

  constructor(
    private readonly maxBufferSize: number,
    /** Called to create a buffer, so the engine can wrap it in an out-of-memory error scope. */
    private readonly create: (desc: GPUBufferDescriptor) => GPUBuffer,
    /** Submits the engine's current batch (then calls afterSubmit): lets the pool free dirty buffers under a budget. */
    private readonly flush: () => void = () => this.afterSubmit(),
  ) {}

  /**
   * A buffer of at least `bytes`. `writer` 'gpu' (default): only commands encoded after this call
   * write it, so a buffer released earlier in the current batch may serve. 'host': it will be filled
   * by queue.writeBuffer, so only a buffer no unsubmitted command can still read.
   */
  acquire(bytes: number, label: string, writer: Writer = 'gpu'): GPUBuffer {
    const s = this.stats;
    let size = sizeClass(Math.max(4, bytes));
    let buf = this.take(size, writer);
    // Growing past the live high-water mark while a somewhat larger buffer idles (a shorter
    // sequence than the last step's): use that one instead.
    if (!buf && s.inUse + s.free + size > Math.max(s.livePeak, s.inUse + size)) {
      for (const c of [...this.clean.keys(), ...(writer === 'gpu' ? this.dirty.keys() : [])].sort((a, b) => a - b)) {
        if (c > size && c <= MAX_OVERSIZE * size && (buf = this.take(c, writer))) break;
      }
    }
    if (buf) {
      size = this.sizes.get(buf)!;
      s.free -= size;
    } else {
      buf = this.grow(size, bytes, label);
    }
    this.clock += size;
    this.sizes.set(buf, size);
    buf.label = label;
    this.stats.inUse += size;
    this.stats.livePeak = Math.max(this.stats.livePeak, this.stats.inUse);
    this.stats.peak = Math.max(this.stats.peak, this.stats.inUse + this.stats.free);
    return buf;
  }

  /** An idle buffer of class `size`: a dirty one for a GPU writer, else a clean one. */
  private take(size: number, writer: Writer): GPUBuffer | undefined {
    const buf = writer === 'gpu' ? this.dirty.get(size)?.pop() : undefined;
    if (buf) {
      this.dirtyBytes -= size;
      this.stats.reusedInBatch++;
      return buf;
    }
    return this.clean.get(size)?.pop();
  }

  /** Returns a buffer: reusable at once for GPU-written tensors, for host-written ones after the submit. */
  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf) ?? buf.size;
    this.stats.inUse -= size;
    if (this.failed.has(buf)) {
      this.failedPending.push(buf);
      return;
    }
    this.stats.free += size;
    this.dirtyBytes += size;
    this.released.set(buf, this.clock);
    listOf(this.dirty, size).push(buf);
  }

  /** The engine calls this right after queue.submit(): every dirty buffer becomes clean. */
  afterSubmit(): void {
    for (const [size, list] of this.dirty) listOf(this.clean, size).push(...list);
    this.dirty = new Map();
    this.dirtyBytes = 0;
    for (const b of this.failedPending) b.destroy();
    this.failedPending = [];
  }

  /**
   * Destroys every clean idle buffer (not the dirty ones: unsubmitted commands may still use them)
   * and returns the bytes given back. Submitted work that still reads one finishes first (WebGPU
   * defers the destroy).
   */
  trim(): number {
    return this.trimOldest(Infinity, Infinity);
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

  // ------------------------------------------------------------------------------- internals

  /** A new buffer of class `size`, after making room: idle buffers go before the footprint passes the live high-water mark. */
  private grow(size: number, bytes: number, label: string): GPUBuffer {
    const s = this.stats;
    const highWater = Math.max(s.livePeak, s.inUse + size);
    if (s.inUse + s.free + size > highWater) {
      this.trimOldest(s.inUse + s.free + size - highWater, this.clock - WARM_FOOTPRINTS * (s.inUse + s.free));
      // The new buffer supersedes an idle, somewhat smaller one (a longer sequence than the last
      // step's): requests that fit the old one can take the new one, so the old one goes.
      for (const c of [...this.clean.keys()].sort((a, b) => b - a)) {
        if (c < size && c * MAX_OVERSIZE >= size && this.clean.get(c)!.length > 0) {
          const old = this.clean.get(c)!.shift()!;
          old.destroy();
          s.free -= c;
          s.destroyed++;
          break;
        }
      }
    }
    if (s.inUse + s.free + size > s.budget) {
      this.trim();
      if (s.inUse + size <= s.budget && s.inUse + s.free + size > s.budget && this.dirtyBytes > 0) {
        this.flush(); // dirty buffers become clean once their readers are submitted …
        this.trim(); // … and can go
      }
      if (s.inUse + size > s.budget) {
        throw new OutOfMemoryError(label, `${mib(size)} more would exceed the ${mib(s.budget)} this device could hold (${mib(s.inUse)} in live tensors)`);
      }
    }
    // Class rounding may pass maxBufferSize; then allocate no more than the limit (or the exact
    // request, which createBuffer will reject with an out-of-memory/validation error we name).
    const buf = this.create({ size: size <= this.maxBufferSize ? size : Math.max(bytes, this.maxBufferSize), usage: TENSOR_USAGE, label });
    s.created++;
    return buf;
  }

  /** Destroys clean idle buffers released before clock `before`, oldest first, until `want` bytes are freed. */
  private trimOldest(want: number, before: number): number {
    const idle: [number, GPUBuffer][] = [];
    for (const [size, list] of this.clean) for (const b of list) if ((this.released.get(b) ?? 0) < before) idle.push([size, b]);
    idle.sort((a, b) => (this.released.get(a[1]) ?? 0) - (this.released.get(b[1]) ?? 0));
    let freed = 0;
    const gone = new Set<GPUBuffer>();
    for (const [size, b] of idle) {
      if (freed >= want) break;
      b.destroy();
      gone.add(b);
      freed += size;
    }
    if (gone.size === 0) return 0;
    for (const [size, list] of this.clean) {
      const kept = list.filter((b) => !gone.has(b));
      if (kept.length) this.clean.set(size, kept);
      else this.clean.delete(size);
    }
    this.stats.free -= freed;
    this.stats.destroyed += gone.size;
    return freed;
  }
}

function listOf(m: Map<number, GPUBuffer[]>, size: number): GPUBuffer[] {
  let list = m.get(size);
  if (!list) m.set(size, (list = []));
  return list;
}
