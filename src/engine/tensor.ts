// A Tensor is a shape, a dtype and a GPU buffer (from the engine's pool), plus what autograd needs:
// `requiresGrad`, the accumulated `grad`, and `node`, the tape entry that produced it.
//
// Compute is f32. bf16 and f16 exist as *storage* dtypes for frozen weights: two values packed
// per u32, converted to f32 on the GPU by ops/convert.ts. i32/u32 hold token ids and masks.
// Tensors are contiguous and row-major. A view (engine.view) is another shape over the same
// buffer, reference-counted, so a view may outlive the tensor it was made from. No strided views.

import { DisposedError } from './errors.ts';
import type { Engine } from './engine.ts';
import type { TapeNode } from './tape.ts';

export type DType = 'f32' | 'i32' | 'u32' | 'bf16' | 'f16';

/** Bytes a tensor of `size` elements occupies on the GPU (16-bit dtypes pack two per u32). */
export function storageBytes(dtype: DType, size: number): number {
  return dtype === 'bf16' || dtype === 'f16' ? Math.ceil(size / 2) * 4 : size * 4;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** A pooled GPU buffer shared by a tensor and its views; returned to the pool when refs hit 0. */
export interface Storage {
  buffer: GPUBuffer;
  refs: number;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  readonly byteLength: number;
  requiresGrad: boolean;
  /** Accumulated gradient (leaf tensors only; intermediate grads are freed after backward). */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, if it was recorded (null again once it ran). */
  node: TapeNode | null = null;
  /** Produced by a recorded op (stays set after its node is released): not a leaf. */
  recorded = false;
  private storage: Storage | null;
  /** Tape nodes that still need this tensor for a backward (see hold()). */
  private holds = 0;
  private disposeRequested = false;

  constructor(
    readonly engine: Engine,
    readonly shape: readonly number[],
    readonly dtype: DType,
    storage: GPUBuffer | Storage,
    readonly label: string,
    requiresGrad = false,
  ) {
    this.size = numel(shape);
    this.byteLength = storageBytes(dtype, this.size);
    if ('refs' in storage) {
      storage.refs++;
      this.storage = storage;
    } else {
      this.storage = { buffer: storage, refs: 1 };
    }
    this.requiresGrad = requiresGrad;
    engine.track(this); // owned by the innermost open engine.tidy() scope, if any
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new DisposedError(this.label, `tensor #${this.id} ${this.describe()} was used after dispose()`);
    return this.storage.buffer;
  }

  /** The shared storage, for views (engine.view / reshape). */
  get sharedStorage(): Storage {
    if (!this.storage) throw new DisposedError(this.label, `tensor #${this.id} ${this.describe()} was used after dispose()`);
    return this.storage;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  get rank(): number {
    return this.shape.length;
  }

  describe(): string {
    return `${this.dtype}[${this.shape.join(', ')}]`;
  }

  /** Copies the data back to the host (flushes pending GPU work first). */
  read(): Promise<HostArray> {
    return this.engine.read(this);
  }

  /** Reads an f32 tensor as a Float32Array (throws for other dtypes). */
  async readF32(): Promise<Float32Array> {
    const d = await this.engine.read(this);
    if (!(d instanceof Float32Array)) throw new DisposedError(this.label, `readF32() on a ${this.dtype} tensor`);
    return d;
  }

  /** Overwrites the contents from the host (same size and dtype). */
  write(data: HostArray): void {
    this.engine.write(this, data);
  }

  /**
   * Keeps the tensor alive for a recorded backward: a dispose() while held is deferred until the
   * last unhold(), so callers may dispose activations right after the forward (as in PyTorch,
   * where the graph keeps saved tensors alive).
   */
  hold(): void {
    this.holds++;
  }

  unhold(): void {
    if (--this.holds === 0 && this.disposeRequested) this.dispose();
  }

  /** Drops this tensor's reference to its buffer (freed with the last view). Safe to call twice. */
  dispose(): void {
    if (!this.storage) return;
    if (this.holds > 0) {
      this.disposeRequested = true;
      return;
    }
    if (--this.storage.refs === 0) this.engine.releaseBuffer(this.storage.buffer);
    this.storage = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}
