// The weight store's key-value backend: the small interface every store function is written
// against, and the in-memory implementation used by unit tests.
//
//   KVBackend            get / set / del / keys(prefix) / freeSpace
//   ├── kv_idb.ts        IndexedDB through idb-keyval (the studio; a dedicated database)
//   ├── kv_node.ts       one file per key in a directory (Node: CLI, tests) — node: imports live there only
//   └── createMemoryBackend (below): a Map, with an optional quota (tests)
//
// Contract (every implementation):
//   - A value is either bytes (Uint8Array) or a JSON value; get() returns what set() stored, by value
//     (later changes to the caller's array do not reach the store). Treat returned bytes as read-only.
//   - set() of one key is atomic: a reader sees the old value or the new one, never a mix, also
//     when the process dies mid-write (IndexedDB: one put per transaction; files: temp + rename).
//   - A full store throws an error for which isQuotaError() is true (QuotaExceededError in the
//     browser, ENOSPC/EDQUOT from the file system); nothing of that value is stored.
//   - keys(prefix) lists every key starting with `prefix`, sorted (code-unit order).
//
// Not here: what the keys mean (manifest.ts), importing (import.ts), GPU upload (load.ts).

/** A JSON value as stored by set() (manifests, import records). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What one key holds: raw bytes (weight chunks, tokenizer files) or JSON. */
export type KVValue = Uint8Array | JsonValue;

/** Free space as the backend sees it; `available` null when it cannot tell. */
export interface FreeSpace {
  available: number | null; // bytes that may still be written
  detail: string; // where the number comes from, for messages ("navigator.storage.estimate(): …")
}

export interface KVBackend {
  /** Where the data lives, for messages: "IndexedDB prefstudio/weights", "files in /x/store". */
  readonly label: string;
  /**
   * True when get() returns bytes that nobody else holds (a fresh buffer per call), so the caller
   * may free them at once with releaseBytes. False when the store hands out its own copy (memory).
   */
  readonly freshGets: boolean;
  get(key: string): Promise<KVValue | undefined>;
  set(key: string, value: KVValue): Promise<void>;
  /** Removes a key; removing an absent key is not an error. */
  del(key: string): Promise<void>;
  /** Every key that starts with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  freeSpace(): Promise<FreeSpace>;
}

/** True for "the store is full" errors of every backend (browser quota, disk full, memory quota). */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  return name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}

/** A QuotaExceededError as browsers throw it (a DOMException where the runtime has one). */
export function quotaError(message: string): Error {
  if (typeof DOMException === 'function') return new DOMException(message, 'QuotaExceededError');
  const e = new Error(message);
  e.name = 'QuotaExceededError';
  return e;
}

/** Bytes a value occupies, as the quota of the memory backend counts them. */
export function valueBytes(v: KVValue): number {
  return v instanceof Uint8Array ? v.byteLength : JSON.stringify(v).length;
}

// ---------------------------------------------------------------------------------------------
// in-memory backend (unit tests)

export interface MemoryBackendOptions {
  /** Total bytes the store may hold; a set() beyond it throws QuotaExceededError. Default: no limit. */
  quota?: number;
  /**
   * What freeSpace() reports: the real remaining quota by default; a number or null to make the
   * estimate lie (browsers' estimates are approximate, so an import may still hit the quota).
   */
  reportedFree?: number | null;
}

export interface MemoryBackend extends KVBackend {
  /** Bytes currently stored (the quota's measure). */
  usedBytes(): number;
}

/** A KVBackend in a Map: values are copied in and out, as structured cloning would. */
export function createMemoryBackend(opts: MemoryBackendOptions = {}): MemoryBackend {
  const map = new Map<string, Uint8Array | string>(); // bytes, or JSON text
  let used = 0;
  const size = (v: Uint8Array | string): number => (typeof v === 'string' ? v.length : v.byteLength);
  const backend: MemoryBackend = {
    label: 'memory store',
    freshGets: false, // get() returns the stored array itself
    usedBytes: () => used,
    async get(key) {
      const v = map.get(key);
      if (v === undefined) return undefined;
      return typeof v === 'string' ? (JSON.parse(v) as JsonValue) : v;
    },
    async set(key, value) {
      const stored = value instanceof Uint8Array ? value.slice() : JSON.stringify(value);
      const old = map.get(key);
      const next = used - (old === undefined ? 0 : size(old)) + size(stored);
      if (opts.quota !== undefined && next > opts.quota) {
        throw quotaError(`memory store: writing '${key}' (${size(stored)} bytes) would use ${next} of the ${opts.quota} bytes allowed`);
      }
      map.set(key, stored);
      used = next;
    },
    async del(key) {
      const old = map.get(key);
      if (old === undefined) return;
      used -= size(old);
      map.delete(key);
    },
    async keys(prefix) {
      return [...map.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    },
    async freeSpace() {
      if (opts.reportedFree !== undefined) return { available: opts.reportedFree, detail: 'memory store (reported free space set by the test)' };
      if (opts.quota === undefined) return { available: null, detail: 'memory store without a quota' };
      return { available: opts.quota - used, detail: `memory store: ${used} of ${opts.quota} bytes used` };
    },
  };
  return backend;
}

/** Code-unit order, the order IndexedDB sorts string keys in. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
