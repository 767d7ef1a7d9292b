// The engine's error types. Every message says what went wrong, where (op, tensor, file) and,
// where there is one, what to do about it — in llm.c's "---> HINT" manner.
//
// Not here: UI wording. The worker turns these into typed protocol events; the UI renders them.

/** Base class: everything the engine throws on purpose is an EngineError. */
export class EngineError extends Error {
  /** Which op, kernel, file or tensor the error is about (e.g. "rmsnorm.forward"). */
  readonly where: string;
  /** A sentence telling the user what to do, if there is anything to do. */
  readonly hint: string | undefined;

  constructor(where: string, message: string, hint?: string) {
    super(`${where}: ${message}${hint ? `\n---> HINT: ${hint}` : ''}`);
    this.name = new.target.name;
    this.where = where;
    this.hint = hint;
  }
}

/** Inputs whose shapes or dtypes do not fit an op. The message states both shapes. */
export class ShapeError extends EngineError {}

/** A WebGPU adapter or device could not be obtained at all. */
export class NoAdapterError extends EngineError {}

/** The GPU device was lost (driver reset, out of memory, tab backgrounded too long). */
export class DeviceLostError extends EngineError {}

/** WebGPU reported a validation / out-of-memory / internal error for an op's GPU work. */
export class GpuError extends EngineError {
  /** 'validation' | 'out-of-memory' | 'internal' | 'compilation' */
  readonly kind: string;
  constructor(where: string, kind: string, message: string, hint?: string) {
    super(where, `GPU ${kind} error: ${message}`, hint);
    this.kind = kind;
  }
}

/** Autograd reached an op that has no backward (never a silent zero gradient). */
export class NoBackwardError extends EngineError {
  constructor(op: string, detail = '') {
    super(
      op,
      `no backward is defined for this op${detail ? ` (${detail})` : ''}, but a gradient must flow through it`,
      'detach the input (requiresGrad: false) or run this part under noGrad()',
    );
  }
}

/** A checkpoint, tokenizer or dataset file is malformed, incomplete or does not fit the model. */
export class LoadError extends EngineError {}

/** A tensor was used after dispose(). */
export class DisposedError extends EngineError {}

/** Non-finite values where finite ones are required (a NaN loss, an Inf gradient norm). */
export class NonFiniteError extends EngineError {}

/** Throws a ShapeError unless `cond` holds. `msg` is only built on failure. */
export function check(cond: boolean, where: string, msg: () => string, hint?: string): asserts cond {
  if (!cond) throw new ShapeError(where, msg(), hint);
}

/** Formats a shape the way error messages show it: [2, 3, 4]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
