// The studio's one zustand store. Each slice lives in slices/<name>/ as initialState.ts (state and
// its types), actions.ts (module-level functions that call setState) and selectors.ts (named
// selector functions). Slices are combined here; middlewares (persist, later) go here only, once.
//
// Slices today: device (the WebGPU adapter), models (the weight store's models and the running
// import). Later: dataset, training, settings. Nothing here is persisted yet: the model list comes
// from the weight store (IndexedDB, owned by the engine worker) on every start, and weights never
// pass through this store.

import { create } from 'zustand';
import { deviceInitialState, type DeviceState } from './slices/device/initialState.ts';
import { modelsInitialState, type ModelsState } from './slices/models/initialState.ts';

export type StudioState = DeviceState & ModelsState;

export const initialStudioState: StudioState = {
  ...deviceInitialState,
  ...modelsInitialState,
};

export const useStudioStore = create<StudioState>()(() => ({ ...initialStudioState }));

/** Store state for non-React callers (the engine bridge, tests). */
export const getStudioState = (): StudioState => useStudioStore.getState();

/** Back to the initial state (tests). */
export const resetStudioStore = (): void => useStudioStore.setState(initialStudioState, true);
