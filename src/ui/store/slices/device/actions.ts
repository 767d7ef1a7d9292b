// Device slice actions, at module level (zustand's "practice with no store actions"): the engine
// bridge (src/ui/engine/useEngine.ts) calls them from worker events, outside React.

import { useStudioStore } from '../../index.ts';
import type { AdapterView, DeviceProblem, DeviceState } from './initialState.ts';

type Device = DeviceState['device'];

function patch(p: Partial<Device>): void {
  useStudioStore.setState((s) => ({ device: { ...s.device, ...p } }));
}

export const deviceActions = {
  /** A probe was sent to the worker. */
  probeStarted(): void {
    patch({ status: 'probing', problem: null });
  },

  /** The worker reported its adapter. */
  adapterFound(adapter: AdapterView, limits: Record<string, number>, features: string[]): void {
    patch({ status: 'ready', adapter, limits, features, problem: null });
  },

  /** The worker (or the worker's loading) failed. No adapter at all is `unavailable`. */
  failed(problem: DeviceProblem): void {
    const status = problem.name === 'NoAdapterError' ? 'unavailable' : 'error';
    patch({ status, problem, ...(status === 'unavailable' ? { adapter: null, limits: {}, features: [] } : {}) });
  },
};
