// The few web-platform APIs the engine uses, declared as narrowly as the engine uses them. Each
// exists in every host the engine runs in (a page, a Web Worker, Node ≥ 20), so the engine may
// use them; everything else of the DOM (document, window, IndexedDB, fetch, …) it may not.
//
// Only src/engine/tsconfig.json reads this file (the root config has the full DOM and Node libs,
// which declare the same names; worker/ and the Node-only files have their own libs). If the
// engine needs another of these APIs, declare the part it uses here — not the whole DOM.

interface Console {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
}
declare var console: Console;

/** Runs the callback after the current task, before any timer (engine.ts batches submits with it). */
declare function queueMicrotask(callback: () => void): void;

interface Performance {
  /** Milliseconds since the host started, sub-millisecond resolution. */
  now(): number;
}
declare var performance: Performance;

declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  /** stream: true keeps an unfinished multi-byte character for the next call. */
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}

/** An AbortController's signal, as import and upload check it between chunks. */
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
}

/** What browsers throw for QuotaExceededError and AbortError (checked with typeof before use). */
declare class DOMException extends Error {
  constructor(message?: string, name?: string);
}

type BlobPart = ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob | string;

/** File bytes outside the JS heap (store/synthetic.ts builds them; File is one). */
declare class Blob {
  constructor(parts?: BlobPart[]);
  readonly size: number;
  slice(start?: number, end?: number): Blob;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A picked or dropped file (store/import.ts sourceFromFiles). */
interface File extends Blob {
  readonly name: string;
  /** The path inside a picked folder ("folder/file"), "" for a single file. */
  readonly webkitRelativePath: string;
}
