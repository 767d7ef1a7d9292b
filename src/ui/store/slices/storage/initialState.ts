// Storage slice: how much of the browser's storage this site uses and may still use
// (navigator.storage.estimate()), and whether it is persistent (navigator.storage.persisted() /
// persist()). Read by src/ui/engine/storage.ts after every change to the stored models.

/** idle: not asked · asking · granted · denied: the browser said no · unsupported: no persist() here. */
export type PersistStatus = 'idle' | 'asking' | 'granted' | 'denied' | 'unsupported';

export interface StorageState {
  storage: {
    /** Bytes this site uses (all its storage: models, caches, runs), or null before the first estimate / without the API. */
    usage: number | null;
    /** Bytes this site may use in all, or null. */
    quota: number | null;
    /** navigator.storage.estimate() exists here. */
    supported: boolean;
    /** The site's storage is persistent (null: not known yet). */
    persisted: boolean | null;
    persist: PersistStatus;
  };
}

export const storageInitialState: StorageState = {
  storage: { usage: null, quota: null, supported: true, persisted: null, persist: 'idle' },
};
