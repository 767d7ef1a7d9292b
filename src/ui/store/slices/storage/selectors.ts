// Storage slice selectors.

import type { StudioState } from '../../index.ts';

export const storageSelectors = {
  usage: (s: StudioState) => s.storage.usage,
  quota: (s: StudioState) => s.storage.quota,
  /** Bytes the site may still write (quota − usage), or null. */
  available: (s: StudioState) => (s.storage.usage === null || s.storage.quota === null ? null : Math.max(0, s.storage.quota - s.storage.usage)),
  supported: (s: StudioState) => s.storage.supported,
  persisted: (s: StudioState) => s.storage.persisted,
  persist: (s: StudioState) => s.storage.persist,
};
