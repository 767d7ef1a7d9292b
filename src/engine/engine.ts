// The Engine owns one GPUDevice and everything attached to it: the buffer pool, the pipeline
// cache, the command batch, the autograd tape and the error routing. Ops reach it through their
// input tensors (`x.engine`), so there is no global state and several engines can coexist.
//
// Dispatch model: ops call `run()`, which records a compute pass into the current command
// encoder; the batch is submitted when someone reads a tensor, writes one, or calls flush().
// Binding order in every shader (webgpu-torch's convention): read-only inputs, then outputs,
// then one `Params` uniform struct, numbered from 0.
//
// Error routing: pipeline and bind-group creation run inside error scopes tagged with the op's
// label; device.lost and uncaptured errors are kept and rethrown, as typed EngineErrors naming
// the op, from the next engine call.
//
// Memory: tensors are freed by dispose(), or in bulk by tidy(fn), which disposes every tensor
// created inside fn that fn does not return (tfjs's tidy). Readback: read(t) for one tensor,
// readMany(ts) for the once-per-step metrics (one staging buffer, one mapAsync, no stall while
// the next step is encoded). `stats` counts dispatches, submits, GPU→CPU waits and pipeline
// compilations (the bench's per-step figures).

import { acquireDevice, type AcquireOptions, type AcquiredDevice, type AdapterDescription } from './device.ts';
import { DeviceLostError, EngineError, GpuError, ShapeError, fmtShape } from './errors.ts';
import { BufferPool, OutOfMemoryError, type Writer } from './pool.ts';
import { Tape, backward, releaseGraph, type BackwardOptions } from './tape.ts';
import { Tensor, numel, storageBytes, type DType, type HostArray } from './tensor.ts';
import { shaderSource, type ShaderName, type ShaderVariant } from '../gpu/shaders/index.ts';

/** A float uniform value; plain numbers in `params` are u32, negative ones i32. */
export class F32 {
  constructor(readonly value: number) {}
}
export const f32 = (v: number): F32 => new F32(v);
export class I32 {
  constructor(readonly value: number) {}
}
export const i32 = (v: number): I32 => new I32(v);
export type ParamValue = number | F32 | I32;

export interface Dispatch {
  /** Label of this dispatch for errors and debugging, e.g. "rmsnorm.forward". */
  op: string;
  shader: ShaderName;
  entry: string;
  inputs: Tensor[];
  outputs: Tensor[];
  /** Fields of the shader's `Params` struct, in declaration order (each 4 bytes). */
  params?: ParamValue[];
  workgroups: readonly [number, number?, number?];
  /** WGSL `override` constants (workgroup sizes, tile sizes, flags). */
  overrides?: Record<string, number>;
  /** Storage type of the module's B operand (shaderSource's variant; default f32), e.g. a bf16 weight. */
  variant?: ShaderVariant;
}

export interface EngineOptions extends AcquireOptions {
  /** 0: quiet; 1: log every dispatch with shapes; 2: also dump WGSL of each new pipeline. */
  debug?: number;
  /** Dispatches per submitted batch before an automatic flush. */
  maxBatch?: number;
  /** Cap on the buffer pool's bytes (default: none until the device reports out-of-memory). */
  memoryBudget?: number;
}

/** Counters since the engine was created (read them before and after a step for per-step figures). */
export interface EngineStats {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Command batches submitted to the queue. */
  submits: number;
  /** Waits for the GPU: one per read()/readMany() (mapAsync) and per sync(). */
  syncs: number;
  /** Compute pipelines created (cache misses: a steady-state step should add none). */
  pipelineCompiles: number;
}

const MAP_READ = 0x01;
const MAP_WRITE = 0x02;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const UNIFORM = 0x40;
/** Writes up to this size are staged inside the current batch instead of flushing it. */
const SMALL_WRITE = 1 << 20;

export class Engine {
  readonly gpu: GPU;
  readonly device: GPUDevice;
  readonly info: AdapterDescription;
  readonly features: Set<string>;
  readonly limits: AcquiredDevice['limits'];
  readonly tape = new Tape();
  readonly pool: BufferPool;
  debug: number;
  /** Cache for per-adapter choices (e.g. the matmul variant per shape class). */
  readonly tuning = new Map<string, unknown>();
  readonly stats: EngineStats = { dispatches: 0, submits: 0, syncs: 0, pipelineCompiles: 0 };

  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private batchOps: string[] = [];
  private lastSubmitted: string[] = [];
  private uniformFree: GPUBuffer[] = [];
  private uniformUsed: GPUBuffer[] = [];
  /** Upload staging buffers of the current batch, destroyed once it is submitted. */
  private stagingUsed: GPUBuffer[] = [];
  private readonly maxBatch: number;
  private pendingError: EngineError | null = null;
  /** Error-scope results not yet delivered; sync() waits for them so errors surface there. */
  private scopes = new Set<Promise<void>>();
  /** Set once the device is lost: the reason, repeated by every later call. */
  private lost: string | null = null;
  /** Open tidy() scopes, innermost last: the tensors created while each was open. */
  private scopeStack: Set<Tensor>[] = [];
  /** Readbacks encoded in the current batch: resolved when it is submitted. */
  private submitWaiters: (() => void)[] = [];

  static async create(gpu: GPU | undefined, opts: EngineOptions = {}): Promise<Engine> {
    return new Engine(await acquireDevice(gpu, opts), opts);
  }

  constructor(acq: AcquiredDevice, opts: EngineOptions = {}) {
    this.gpu = acq.gpu;
    this.device = acq.device;
    this.info = acq.info;
    this.features = acq.features;
    this.limits = acq.limits;
    this.debug = opts.debug ?? 0;
    this.maxBatch = opts.maxBatch ?? 256;
    this.pool = new BufferPool(
      this.limits.maxBufferSize,
      (desc) => this.createBuffer(desc, (buf) => this.pool.outOfMemory(buf)),
      () => this.flush(),
    );
    if (opts.memoryBudget !== undefined) this.pool.setBudget(opts.memoryBudget);
    this.device.lost.then((info) => {
      this.lost = `the GPU device was lost (${info.reason}): ${info.message || 'no message'}`;
    });
    this.device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      // Outside every error scope the engine opens, so the culprit is not known exactly: name the
      // last submitted batch and what is being recorded now, and say so.
      const where = `uncaptured GPU error (last submitted batch [${summarise(this.lastSubmitted)}]; recording [${summarise(this.batchOps.slice(-8))}])`;
      this.setPending(new GpuError(where, errorKind(ev.error), ev.error.message));
    };
  }

  // ---------------------------------------------------------------- tensors

  /**
   * An uninitialised tensor (contents are whatever the pooled buffer held). Its buffer may have been
   * released earlier in the current batch (pool.ts): fill it with dispatches, copies or write() —
   * never with device.queue.writeBuffer directly (use emptyForHost for that).
   */
  empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    return this.allocate(shape, dtype, label, 'gpu');
  }

  /**
   * An uninitialised tensor that device.queue.writeBuffer may fill at once: its buffer is not read by
   * any command still waiting in the current batch (the weight loader's direct uploads).
   */
  emptyForHost(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    return this.allocate(shape, dtype, label, 'host');
  }

  private allocate(shape: readonly number[], dtype: DType, label: string, writer: Writer): Tensor {
    this.throwIfBroken(label);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(label, `invalid shape ${fmtShape(shape)}`);
    }
    const bytes = storageBytes(dtype, numel(shape));
    if (bytes > this.limits.maxBufferSize) {
      throw new ShapeError(label, `${dtype}${fmtShape(shape)} needs ${bytes} bytes, over this device's maxBufferSize ${this.limits.maxBufferSize}`, 'split the tensor into chunks (e.g. by rows)');
    }
    // Every tensor is bound whole to some kernel, so it must fit one storage binding too.
    if (bytes > this.limits.maxStorageBufferBindingSize) {
      throw new ShapeError(
        label,
        `${dtype}${fmtShape(shape)} needs ${bytes} bytes, over this device's maxStorageBufferBindingSize ${this.limits.maxStorageBufferBindingSize} (the most one kernel binding may cover)`,
        'split the tensor by rows (engine/table.ts row parts, as the embedding is), or use fewer rows per call',
      );
    }
    return new Tensor(this, shape, dtype, this.pool.acquire(bytes, label, writer), label);
  }

  /** A tensor holding `data` (f32 unless `dtype` says otherwise; bf16/f16 take raw 16-bit words). */
  tensor(data: ArrayLike<number> | HostArray, shape: readonly number[], opts: { dtype?: DType; requiresGrad?: boolean; label?: string } = {}): Tensor {
    const dtype = opts.dtype ?? 'f32';
    const t = this.empty(shape, dtype, opts.label ?? 'tensor');
    if (data.length !== t.size) {
      t.dispose();
      throw new ShapeError(opts.label ?? 'tensor', `${data.length} values given for shape ${fmtShape(shape)} (${t.size} elements)`);
    }
    this.write(t, toHost(data, dtype));
    t.requiresGrad = opts.requiresGrad ?? false;
    return t;
  }

  zeros(shape: readonly number[], label = 'zeros'): Tensor {
    return this.full(shape, 0, label);
  }

  full(shape: readonly number[], value: number, label = 'full'): Tensor {
    const t = this.empty(shape, 'f32', label);
    this.fill(t, value);
    return t;
  }

  /** Sets every element of an f32 tensor to `value` (on the GPU). */
  fill(t: Tensor, value: number): void {
    if (t.size === 0) return;
    this.run({ op: 'fill', shader: 'util', entry: 'fill', inputs: [], outputs: [t], params: [t.size, f32(value)], workgroups: this.grid(t.size, 256) });
  }

  /** A new tensor with the same contents (same dtype, shape; requiresGrad false). */
  copy(src: Tensor, label = `${src.label}.copy`): Tensor {
    const t = this.empty(src.shape, src.dtype, label);
    if (src.byteLength) {
      this.getEncoder().copyBufferToBuffer(src.buffer, 0, t.buffer, 0, src.byteLength);
      this.batchOps.push('copy');
    }
    return t;
  }

  /**
   * The same data under another shape (same element count), sharing the buffer — no copy. As an
   * autograd op its backward is the gradient viewed back in the input's shape.
   */
  view(x: Tensor, shape: readonly number[], label = `${x.label}.view`): Tensor {
    const n = numel(shape);
    if (n !== x.size) throw new ShapeError('view', `cannot view ${x.describe()} as ${fmtShape(shape)} (${n} elements)`);
    const v = new Tensor(this, shape, x.dtype, x.sharedStorage, label);
    this.tape.record({ op: 'view', inputs: [x], outputs: [v], backward: ([dv]) => [this.view(dv!, x.shape, 'view.grad')] });
    return v;
  }

  /** dst += src, elementwise, f32 (used by autograd and gradient accumulation). */
  accumulate(dst: Tensor, src: Tensor): void {
    if (dst.size !== src.size) throw new ShapeError('accumulate', `${fmtShape(dst.shape)} += ${fmtShape(src.shape)}`);
    if (dst.size === 0) return;
    this.run({ op: 'accumulate', shader: 'util', entry: 'accumulate', inputs: [src], outputs: [dst], params: [dst.size], workgroups: this.grid(dst.size, 256) });
  }

  write(t: Tensor, data: HostArray): void {
    this.throwIfBroken(t.label);
    if (data.byteLength !== t.byteLength && !(t.byteLength - data.byteLength === 2 && (t.dtype === 'bf16' || t.dtype === 'f16'))) {
      throw new ShapeError(t.label, `write of ${data.byteLength} bytes into ${t.describe()} (${t.byteLength} bytes)`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.ceil(data.byteLength / 4) * 4; // copies move whole 4-byte words
    if (this.encoder && size <= SMALL_WRITE) {
      // Commands already encoded may read this buffer (the tensor's own earlier readers, or those of
      // a tensor whose buffer the pool handed on within the batch), so the write must land after
      // them: stage it and copy inside the batch (in order), instead of queue.writeBuffer, which
      // would land first — and instead of a flush, so a step with small uploads stays one submit.
      const staging = this.createBuffer({ size, usage: MAP_WRITE | COPY_SRC, mappedAtCreation: true, label: `${t.label}.upload` });
      new Uint8Array(staging.getMappedRange()).set(bytes);
      staging.unmap();
      this.encoder.copyBufferToBuffer(staging, 0, t.buffer, 0, size);
      this.batchOps.push('upload');
      this.stagingUsed.push(staging);
      return;
    }
    this.flush(); // large writes: submit what is encoded first (its readers), then let the queue stage the data
    if (size === data.byteLength) {
      this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    } else {
      const padded = new Uint8Array(size);
      padded.set(bytes);
      this.device.queue.writeBuffer(t.buffer, 0, padded);
    }
  }

  /** Copies a tensor to the host (readMany of one). */
  async read(t: Tensor): Promise<HostArray> {
    return (await this.readMany([t]))[0];
  }

  /**
   * Copies several tensors to the host with ONE staging buffer and ONE mapAsync: the once-per-step
   * metrics readback. The copies are encoded into the current batch at the call (they see every
   * write encoded before it; later work may overwrite or dispose the tensors freely), and nothing
   * waits here: the batch is submitted by the next flush — at the latest when the calling task
   * yields — and the promise resolves once the GPU has run that far. So
   *   const metrics = e.readMany([loss, pairs, gradNorm]);  // step k
   *   encodeStep(k + 1);                                     // the GPU keeps working
   *   log(await metrics);
   * costs one GPU→CPU wait per step and never idles the GPU. Each result has its tensor's dtype
   * and size (16-bit dtypes: raw Uint16 words).
   */
  readMany(tensors: readonly Tensor[]): Promise<HostArray[]> {
    const where = tensors.length === 1 ? tensors[0].label : `readMany [${tensors.map((t) => t.label).slice(0, 4).join(', ')}${tensors.length > 4 ? ', …' : ''}]`;
    this.throwIfBroken(where);
    if (tensors.length === 0) return Promise.resolve([]);
    const buffers = tensors.map((t) => t.buffer); // throws DisposedError (naming it) before any allocation
    const offsets: number[] = [];
    let total = 0;
    for (const t of tensors) {
      offsets.push(total);
      total += t.byteLength; // a multiple of 4 (16-bit dtypes pack whole u32 words)
    }
    const staging = this.createBuffer({ size: Math.max(4, total), usage: MAP_READ | COPY_DST, label: `${where}.readback` });
    const enc = this.getEncoder();
    tensors.forEach((t, i) => {
      if (t.byteLength) enc.copyBufferToBuffer(buffers[i], 0, staging, offsets[i], t.byteLength);
    });
    this.batchOps.push('readback');
    const submitted = new Promise<void>((resolve) => this.submitWaiters.push(resolve));
    // Submit when the caller yields, unless something flushes first (also on a lost device, where
    // the submit is a no-op and mapAsync then fails with the loss, instead of waiting forever).
    queueMicrotask(() => {
      if (this.submitWaiters.length) this.flush();
    });
    return (async () => {
      await submitted;
      this.stats.syncs++;
      let raw: ArrayBuffer;
      try {
        await staging.mapAsync(GPUMapMode.READ);
        raw = staging.getMappedRange().slice(0);
        staging.unmap();
      } catch (e) {
        this.throwIfBroken(where);
        throw new GpuError(where, 'readback', String(e));
      } finally {
        staging.destroy();
      }
      await Promise.all([...this.scopes]);
      this.throwIfBroken(where);
      return tensors.map((t, i) => fromRaw(raw, t.dtype, t.size, offsets[i]));
    })();
  }

  releaseBuffer(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  // ---------------------------------------------------------------- scoped disposal

  /**
   * Runs `fn` and disposes every tensor created inside it that it does not return (a Tensor, or
   * arrays and objects holding Tensors, searched recursively), in the spirit of tfjs's tidy. Scopes
   * nest: what an inner tidy returns belongs to the enclosing one. Works with autograd: tensors a
   * recorded op keeps for its backward are held by the tape, so their dispose waits until the
   * backward (or releaseGraph) is done; gradients that backward() stores in a leaf's `.grad` and
   * optimizer state are taken out of every scope (keep()). If `fn` throws, everything it created
   * is disposed and the error is rethrown. Synchronous only, as noGrad().
   */
  tidy<T>(fn: () => T): T {
    const scope = new Set<Tensor>();
    this.scopeStack.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.endScope(scope, new Set());
      throw e;
    }
    if (result instanceof Promise) {
      this.endScope(scope, new Set());
      throw new EngineError('tidy', 'was given an async function', 'run only the synchronous GPU calls inside tidy(() => …) and await outside it');
    }
    this.endScope(scope, collectTensors(result));
    return result;
  }

  /** Takes `t` out of every open tidy() scope: it outlives them, and its owner disposes it. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.scopeStack) s.delete(t);
    return t;
  }

  /** Called by the Tensor constructor: a new tensor belongs to the innermost open tidy() scope. */
  track(t: Tensor): void {
    if (this.scopeStack.length) this.scopeStack[this.scopeStack.length - 1].add(t);
  }

  private endScope(scope: Set<Tensor>, kept: Set<Tensor>): void {
    const i = this.scopeStack.lastIndexOf(scope);
    this.scopeStack.splice(i, 1);
    const parent = this.scopeStack[this.scopeStack.length - 1];
    for (const t of scope) {
      if (kept.has(t)) parent?.add(t);
      else t.dispose();
    }
  }

  // ---------------------------------------------------------------- autograd

  noGrad<T>(fn: () => T): T {
    return this.tape.noGrad(fn);
  }

  backward(roots: Tensor | Tensor[], opts?: BackwardOptions): void {
    backward(this, roots, opts);
  }

  /** Frees a recorded graph that will not be backpropagated. */
  releaseGraph(roots: Tensor | Tensor[]): void {
    releaseGraph(roots);
  }

  // ---------------------------------------------------------------- dispatch

  /** A 1-D grid for `n` invocations in workgroups of `wg`, folded into y above 65535 groups. */
  grid(n: number, wg: number): [number, number] {
    const groups = Math.max(1, Math.ceil(n / wg));
    const maxX = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxX) return [groups, 1];
    const y = Math.ceil(groups / maxX);
    return [Math.ceil(groups / y), y];
  }

  pipeline(shader: ShaderName, entry: string, overrides: Record<string, number> = {}, variant?: ShaderVariant): GPUComputePipeline {
    const moduleKey = variant ? `${shader}@${variant}` : shader;
    const key = `${moduleKey}:${entry}:${JSON.stringify(overrides)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(moduleKey);
    if (!module) {
      const code = shaderSource(shader, variant);
      if (this.debug >= 2) console.log(`[engine] WGSL ${shader}\n${code}`);
      module = this.device.createShaderModule({ code, label: `${shader}.module` });
      this.modules.set(moduleKey, module);
      const m = module;
      const p: Promise<void> = m.getCompilationInfo().then(
        (info) => {
          this.scopes.delete(p);
          const errs = info.messages.filter((x) => x.type === 'error');
          if (errs.length) {
            this.setPending(new GpuError(`${shader}.wgsl`, 'compilation', errs.map((x) => `line ${x.lineNum}:${x.linePos} ${x.message}`).join('; ')));
          }
        },
        () => {
          this.scopes.delete(p); // the device is gone; the lost handler reports it
        },
      );
      this.scopes.add(p);
    }
    this.stats.pipelineCompiles++;
    this.device.pushErrorScope('validation');
    p = this.device.createComputePipeline({
      label: `${shader}.${entry}.pipeline`,
      layout: 'auto',
      compute: { module, entryPoint: entry, constants: overrides },
    });
    this.watchScope(`${shader}.${entry} pipeline ${JSON.stringify(overrides)}`);
    this.pipelines.set(key, p);
    return p;
  }

  /** Records one compute dispatch into the current batch. */
  run(d: Dispatch): void {
    this.throwIfBroken(d.op);
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new ShapeError(d.op, `dispatch [${x}, ${y}, ${z}] exceeds ${maxWg} workgroups per dimension`);
    }
    if (this.debug >= 1) {
      console.log(`[engine] ${d.op} ${d.entry} in=${d.inputs.map((t) => t.describe()).join(',')} out=${d.outputs.map((t) => t.describe()).join(',')} wg=[${x},${y},${z}]`);
    }
    const pipeline = this.pipeline(d.shader, d.entry, d.overrides, d.variant);
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    for (const t of [...d.inputs, ...d.outputs]) {
      // Bind at least 16 bytes rounded to 16, so shaders may declare vec4 arrays; the pool's
      // size classes (multiples of 256 B) guarantee the room.
      const size = Math.min(t.buffer.size, Math.max(16, Math.ceil(t.byteLength / 16) * 16));
      entries.push({ binding: binding++, resource: { buffer: t.buffer, offset: 0, size } });
    }
    if (d.params && d.params.length) {
      entries.push({ binding: binding++, resource: { buffer: this.uniform(d.params, d.op) } });
    }
    this.device.pushErrorScope('validation');
    const bindGroup = this.device.createBindGroup({ label: `${d.op}.bindgroup`, layout: pipeline.getBindGroupLayout(0), entries });
    this.watchScope(d.op);
    const pass = this.getEncoder().beginComputePass({ label: `${d.op}.pass` });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.batchOps.push(d.op);
    this.stats.dispatches++;
    if (this.batchOps.length >= this.maxBatch) this.flush();
  }

  /** Submits the current batch. */
  flush(): void {
    if (!this.encoder) {
      // Nothing encoded since the last submit: buffers released since then were never read by
      // unsubmitted commands, so they are reusable now.
      this.pool.afterSubmit();
      return;
    }
    const ops = this.batchOps;
    this.device.pushErrorScope('validation');
    const cmd = this.encoder.finish({ label: 'engine.batch' });
    this.device.queue.submit([cmd]);
    this.stats.submits++;
    this.watchScope(`batch [${summarise(ops)}]`);
    this.encoder = null;
    this.lastSubmitted = ops;
    this.batchOps = [];
    this.pool.afterSubmit();
    this.uniformFree.push(...this.uniformUsed);
    this.uniformUsed = [];
    for (const b of this.stagingUsed) b.destroy(); // destroy after submit: the copies still run
    this.stagingUsed = [];
    const waiters = this.submitWaiters;
    this.submitWaiters = [];
    for (const w of waiters) w(); // readbacks in this batch may map their staging buffers now
  }

  /** Flushes and waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    this.stats.syncs++;
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all([...this.scopes]);
    this.throwIfBroken('sync');
  }

  /** Throws the first error the device reported, if any (named after the op that caused it). */
  throwIfBroken(where: string): void {
    if (this.lost) {
      throw new DeviceLostError(where, this.lost, 'the GPU ran out of memory or was reset; reload the page (or restart the process) and try a smaller batch or sequence length');
    }
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    for (const b of [...this.uniformFree, ...this.uniformUsed]) b.destroy();
    this.device.destroy();
  }

  // ---------------------------------------------------------------- internals

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'engine.encoder' });
    return this.encoder;
  }

  private uniform(params: ParamValue[], op: string): GPUBuffer {
    // Every uniform buffer is 256 B (64 fields), recycled after its batch is submitted.
    if (params.length > 64) throw new EngineError(op, `too many uniform params (${params.length} > 64)`);
    const buf = this.uniformFree.pop() ?? this.createBuffer({ size: 256, usage: UNIFORM | COPY_DST, label: 'engine.params' });
    this.uniformUsed.push(buf);
    const data = new ArrayBuffer(Math.max(16, Math.ceil(params.length / 4) * 16));
    const u = new Uint32Array(data);
    const f = new Float32Array(data);
    const s = new Int32Array(data);
    params.forEach((p, i) => {
      if (p instanceof F32) {
        f[i] = p.value;
        return;
      }
      // Integers must fit their 32-bit field exactly: a typed-array store would wrap silently.
      const v = p instanceof I32 ? p.value : p;
      const signed = p instanceof I32 || v < 0;
      const fits = Number.isInteger(v) && (signed ? v >= -(2 ** 31) && v < 2 ** 31 : v < 2 ** 32);
      if (!fits) {
        throw new ShapeError(op, `uniform parameter ${i} = ${v} is not a 32-bit ${signed ? 'signed' : 'unsigned'} integer (it would wrap)`, 'split the work into smaller dispatches (fewer rows, a smaller batch or vocabulary part)');
      }
      if (signed) s[i] = v;
      else u[i] = v;
    });
    this.device.queue.writeBuffer(buf, 0, data);
    return buf;
  }

  /** createBuffer inside an out-of-memory scope; `onOom` (the pool's) describes what it freed. */
  private createBuffer(desc: GPUBufferDescriptor, onOom?: (buf: GPUBuffer) => string): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const b = this.device.createBuffer(desc);
    const where = `allocation of ${desc.size} bytes for ${desc.label}`;
    this.watchScope(where, onOom && ((err) => (errorKind(err) === 'out-of-memory' ? new OutOfMemoryError(where, `${err.message}; ${onOom(b)}`) : null)));
    return b;
  }

  /** Pops the innermost error scope; an error becomes the pending EngineError (`special` may type it). */
  private watchScope(where: string, special?: (err: GPUError) => EngineError | null): void {
    const p: Promise<void> = this.device.popErrorScope().then(
      (err) => {
        this.scopes.delete(p);
        if (err) this.setPending(special?.(err) ?? new GpuError(where, errorKind(err), err.message, errorHint(err)));
      },
      () => {
        this.scopes.delete(p); // the device is lost; lostError reports it
      },
    );
    this.scopes.add(p);
  }

  private setPending(e: EngineError): void {
    if (!this.pendingError) this.pendingError = e;
  }
}

function errorKind(err: GPUError): string {
  const n = err.constructor?.name ?? '';
  if (n.includes('OutOfMemory')) return 'out-of-memory';
  if (n.includes('Internal')) return 'internal';
  return 'validation';
}

function errorHint(err: GPUError): string | undefined {
  return errorKind(err) === 'out-of-memory' ? 'the GPU is out of memory: use a shorter sequence, a smaller batch, or LoRA on a frozen 16-bit base' : undefined;
}

function summarise(ops: string[]): string {
  const counts = new Map<string, number>();
  for (const o of ops) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([o, n]) => (n > 1 ? `${o}×${n}` : o)).join(', ');
}

function toHost(data: ArrayLike<number> | HostArray, dtype: DType): HostArray {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data);
    case 'u32':
      return data instanceof Uint32Array ? data : Uint32Array.from(data);
    case 'bf16':
    case 'f16':
      return data instanceof Uint16Array ? data : Uint16Array.from(data);
  }
}

/** The `size` elements of `dtype` at byte `offset` of a readback (views, not copies). */
function fromRaw(raw: ArrayBuffer, dtype: DType, size: number, offset: number): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(raw, offset, size);
    case 'i32':
      return new Int32Array(raw, offset, size);
    case 'u32':
      return new Uint32Array(raw, offset, size);
    case 'bf16':
    case 'f16':
      return new Uint16Array(raw, offset, size);
  }
}

/** The tensors in a tidy() result: a Tensor, or arrays / objects (own properties) holding them. */
function collectTensors(x: unknown, found = new Set<Tensor>(), seen = new Set<object>()): Set<Tensor> {
  if (x instanceof Tensor) {
    found.add(x);
  } else if (x !== null && typeof x === 'object' && !seen.has(x) && !(x instanceof Engine) && !ArrayBuffer.isView(x) && !(x instanceof ArrayBuffer)) {
    seen.add(x);
    const values = x instanceof Map ? [...x.values()] : x instanceof Set ? [...x] : Array.isArray(x) ? x : Object.values(x);
    for (const v of values) collectTensors(v, found, seen);
  }
  return found;
}
