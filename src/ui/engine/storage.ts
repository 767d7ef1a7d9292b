// The studio's side of the browser's storage: how much this site uses and may use
// (navigator.storage.estimate()), whether it is persistent (persisted() / persist()), and the
// imports that stopped before they finished (read-only, straight from the weight store's
// IndexedDB with the store's own listPartialImports; the worker protocol has no such command, and
// discarding one is the worker's deleteModel). Results go into the store's storage and models
// slices. Like useEngine.ts, this is the bridge: components call these functions, never the APIs.

import { createIdbBackend } from '../../engine/store/kv_idb.ts';
import { listPartialImports } from '../../engine/store/partial.ts';
import type { KVBackend } from '../../engine/store/kv.ts';
import { getStudioState } from '../store/index.ts';
import { modelsActions } from '../store/slices/models/actions.ts';
import { storageActions } from '../store/slices/storage/actions.ts';

const storage = (): StorageManager | undefined => (typeof navigator === 'undefined' ? undefined : navigator.storage);

/** Reads the estimate and the persistence flag. Never throws (a failed read leaves the old values). */
export async function refreshStorage(): Promise<void> {
  const s = storage();
  try {
    if (!s?.estimate) storageActions.estimated(null);
    else {
      const { usage, quota } = await s.estimate();
      storageActions.estimated(usage === undefined || quota === undefined ? null : { usage, quota });
    }
    storageActions.persistedRead(s?.persisted ? await s.persisted() : null);
  } catch {
    // an estimate is advice: keep what is shown
  }
}

/** Asks the browser to keep this site's storage (navigator.storage.persist()). */
export async function requestPersist(): Promise<void> {
  const s = storage();
  if (!s?.persist) return storageActions.persistAnswered(null);
  storageActions.persistAsked();
  try {
    storageActions.persistAnswered(await s.persist());
  } catch {
    storageActions.persistAnswered(false);
  }
  await refreshStorage();
}

let kv: KVBackend | null = null;

/**
 * The built-in demo's ids (the worker's models.ts DEMO_ID_PREFIX): its import at the first start
 * is the worker's own business (an unfinished one is replaced by the next ensureDemo), not the user's.
 */
const isDemoId = (id: string): boolean => /^prefstudio-demo\.[0-9a-f]{8}$/.test(id);

/**
 * Reads the store's unfinished imports into the models slice. Not while an import runs (its own
 * pending record would be listed as unfinished): the bridge calls this again after it ends.
 */
export async function refreshPartials(): Promise<void> {
  const busy = (): boolean => ['running', 'cancelling'].includes(getStudioState().models.import.status);
  if (busy()) return;
  try {
    const list = (await listPartialImports((kv ??= createIdbBackend()))).filter((p) => !isDemoId(p.id));
    if (busy()) return; // an import started while this was read
    modelsActions.partialsListed(list.map((p) => ({ ...p })));
  } catch {
    // the worker reports store failures (listModels); a missing listing is not worth a second box
  }
}
