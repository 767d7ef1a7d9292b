// The studio's one zustand store. Each slice lives in slices/<name>/ as initialState.ts (state and
// its types), actions.ts (module-level functions that call setState) and selectors.ts (named
// selector functions). Slices are combined here; middlewares (persist, later) go here only, once.
//
// Slices today: device. Later: model, dataset, training, settings.

import { create } from 'zustand';
import { deviceInitialState, type DeviceState } from './slices/device/initialState.ts';

export type StudioState = DeviceState;

export const initialStudioState: StudioState = {
  ...deviceInitialState,
};

export const useStudioStore = create<StudioState>()(() => ({ ...initialStudioState }));

/** Store state for non-React callers (the engine bridge, tests). */
export const getStudioState = (): StudioState => useStudioStore.getState();

/** Back to the initial state (tests). */
export const resetStudioStore = (): void => useStudioStore.setState(initialStudioState, true);
