// Progress events of loading and storing weights (the store's import, the GPU upload from files or
// the store), and the meter that makes them. One event type for all phases so that the UI draws
// one progress bar:
//   validate  reading config.json, the index and every safetensors header (bytes = bytes read)
//   copy      copying tensor bytes (and tokenizer files) into the store (skipped chunks count too)
//   upload    streaming tensor bytes (from the files or the store) into GPU buffers
// MB are 10^6 bytes; mbPerSec is the average since the phase started.

export type StorePhase = 'validate' | 'copy' | 'upload';

export interface StoreProgress {
  phase: StorePhase;
  bytesDone: number;
  bytesTotal: number;
  percent: number; // 0…100
  mbPerSec: number;
  file?: string; // the file being read or copied
  tensor?: string; // the tensor being uploaded
}

export type ProgressCallback = (p: StoreProgress) => void;

/** Counts bytes of one phase and reports them: at most every `everyMs`, and always at a new file and at the end. */
export class ProgressMeter {
  private readonly t0 = now();
  private lastReport = -Infinity;
  private lastFile: string | undefined;
  bytesDone = 0;

  constructor(
    readonly phase: StorePhase,
    public bytesTotal: number,
    private readonly cb: ProgressCallback | undefined,
    private readonly everyMs = 50,
  ) {}

  /** Adds `bytes` and reports if enough time has passed (or `force`). */
  add(bytes: number, where: { file?: string; tensor?: string } = {}, force = false): void {
    this.bytesDone += bytes;
    this.report(where, force);
  }

  report(where: { file?: string; tensor?: string } = {}, force = false): void {
    if (!this.cb) return;
    const t = now();
    const done = this.bytesDone >= this.bytesTotal;
    const newFile = where.file !== undefined && where.file !== this.lastFile; // always tell when a file starts
    if (!force && !done && !newFile && t - this.lastReport < this.everyMs) return;
    this.lastReport = t;
    if (where.file !== undefined) this.lastFile = where.file;
    const secs = Math.max(1e-6, (t - this.t0) / 1000);
    this.cb({
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      percent: this.bytesTotal > 0 ? Math.min(100, (100 * this.bytesDone) / this.bytesTotal) : 100,
      mbPerSec: this.bytesDone / 1e6 / secs,
      ...where,
    });
  }
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Throws the signal's reason (an AbortError DOMException by default) once it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? abortError();
}

function abortError(): Error {
  if (typeof DOMException === 'function') return new DOMException('the operation was aborted', 'AbortError');
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}
