// Storage slice actions: src/ui/engine/storage.ts calls them with what the browser answered.

import { useStudioStore } from '../../index.ts';
import type { StorageState } from './initialState.ts';

type Storage = StorageState['storage'];

function patch(p: Partial<Storage>): void {
  useStudioStore.setState((s) => ({ storage: { ...s.storage, ...p } }));
}

export const storageActions = {
  /** estimate() answered (null: the browser has no estimate()). */
  estimated(e: { usage: number; quota: number } | null): void {
    patch(e ? { usage: e.usage, quota: e.quota, supported: true } : { usage: null, quota: null, supported: false });
  },

  /** persisted() answered; null: no such API. */
  persistedRead(persisted: boolean | null): void {
    patch(persisted === null ? { persisted: false, persist: 'unsupported' } : { persisted });
  },

  persistAsked(): void {
    patch({ persist: 'asking' });
  },

  /** persist() answered: granted or not (null: no such API). */
  persistAnswered(granted: boolean | null): void {
    patch(granted === null ? { persist: 'unsupported' } : { persist: granted ? 'granted' : 'denied', persisted: granted });
  },
};
