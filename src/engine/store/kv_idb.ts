// KVBackend over IndexedDB through idb-keyval: the studio's weight store. A dedicated database
// ('prefstudio', object store 'weights') so that the weights never share a database (or its
// version upgrades) with the UI's small settings.
//
// Each set() is one put in its own transaction, so a key is written atomically. Bytes are stored as
// Uint8Array (structured clone); Chromium keeps large values as blob files next to the database
// and reads them back as a fresh ArrayBuffer. A full origin quota fails the transaction with
// QuotaExceededError (isQuotaError), and nothing of the value is kept.
//
// Runs in a page or a Worker. Not in Node (no indexedDB there): use kv_node.ts.

import { createStore, del, get, promisifyRequest, set, type UseStore } from 'idb-keyval';
import { fmtBytes } from '../util/bytes.ts';
import { compareKeys, type FreeSpace, type KVBackend, type KVValue } from './kv.ts';

/** The database and object store of the weight store. */
export const IDB_DATABASE = 'prefstudio';
export const IDB_STORE = 'weights';

/** A KVBackend on IndexedDB (database `dbName`, object store `storeName`). */
export function createIdbBackend(dbName = IDB_DATABASE, storeName = IDB_STORE): KVBackend {
  const store: UseStore = createStore(dbName, storeName);
  return {
    label: `IndexedDB ${dbName}/${storeName}`,
    freshGets: true, // structured clone: every get() deserializes a new ArrayBuffer
    get: (key) => get<KVValue>(key, store),
    set(key, value) {
      // Structured clone copies a Uint8Array's whole ArrayBuffer, not just its view: store a
      // compact copy when the array is a window on a bigger buffer.
      const v = value instanceof Uint8Array && (value.byteOffset !== 0 || value.byteLength !== value.buffer.byteLength) ? value.slice() : value;
      return set(key, v, store);
    },
    del: (key) => del(key, store),
    async keys(prefix) {
      // Every string key that starts with `prefix` sorts between prefix and prefix + U+FFFF
      // (our keys are ASCII plus file names; a name with U+FFFF itself would be missed).
      const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
      const keys = await store('readonly', (s) => promisifyRequest(s.getAllKeys(range)));
      return keys.filter((k): k is string => typeof k === 'string').sort(compareKeys);
    },
    async freeSpace(): Promise<FreeSpace> {
      const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
      if (!storage?.estimate) return { available: null, detail: 'navigator.storage.estimate() is not available here' };
      const { quota, usage } = await storage.estimate();
      if (quota === undefined || usage === undefined) return { available: null, detail: 'navigator.storage.estimate() gave no quota' };
      return { available: Math.max(0, quota - usage), detail: `navigator.storage.estimate(): quota ${fmtBytes(quota)}, used ${fmtBytes(usage)}` };
    },
  };
}
