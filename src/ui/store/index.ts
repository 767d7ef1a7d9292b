// The studio's one zustand store. Each slice lives in slices/<name>/ as initialState.ts (state and
// its types), actions.ts (module-level functions that call setState) and selectors.ts (named
// selector functions). Slices are combined here; middlewares (persist, later) go here only, once.
//
// Slices today: nav (the screen shown), announce (the status region's message), device (the WebGPU
// adapter), storage (the browser's storage estimate and persistence), models (the weight store's
// models and adapters, the running import, unfinished imports), data (the preference set the Data
// screen shows and the Train screen sends), train (the Train screen's settings and the run it shows),
// runs (every stored run, and which are compared), check (the self-check's cases and outcomes),
// heldRun (the run whose weights the engine worker holds), generate (the prompt, sampling settings
// and the two answers), export (the Export screen's choices and the weights export under way).
// Nothing here is persisted: the model list comes from the weight store (IndexedDB, owned by the
// engine worker) on every start, the screen from the URL's hash, and weights never pass through
// this store.

import { create } from 'zustand';
import { announceInitialState, type AnnounceState } from './slices/announce/initialState.ts';
import { checkInitialState, type CheckState } from './slices/check/initialState.ts';
import { dataInitialState, type DataState } from './slices/data/initialState.ts';
import { exportInitialState, type ExportState } from './slices/export/initialState.ts';
import { generateInitialState, type GenerateState } from './slices/generate/initialState.ts';
import { heldRunInitialState, type HeldRunState } from './slices/heldRun/initialState.ts';
import { deviceInitialState, type DeviceState } from './slices/device/initialState.ts';
import { modelsInitialState, type ModelsState } from './slices/models/initialState.ts';
import { navInitialState, type NavState } from './slices/nav/initialState.ts';
import { runsInitialState, type RunsState } from './slices/runs/initialState.ts';
import { storageInitialState, type StorageState } from './slices/storage/initialState.ts';
import { trainInitialState, type TrainState } from './slices/train/initialState.ts';

export type StudioState = NavState & AnnounceState & DeviceState & StorageState & ModelsState & DataState & CheckState & HeldRunState & GenerateState & ExportState & TrainState & RunsState;

export const initialStudioState: StudioState = {
  ...navInitialState,
  ...announceInitialState,
  ...deviceInitialState,
  ...storageInitialState,
  ...modelsInitialState,
  ...dataInitialState,
  ...checkInitialState,
  ...heldRunInitialState,
  ...generateInitialState,
  ...exportInitialState,
  ...trainInitialState,
  ...runsInitialState,
};

export const useStudioStore = create<StudioState>()(() => ({ ...initialStudioState }));

/** Store state for non-React callers (the engine bridge, tests). */
export const getStudioState = (): StudioState => useStudioStore.getState();

/** Back to the initial state (tests). */
export const resetStudioStore = (): void => useStudioStore.setState(initialStudioState, true);
