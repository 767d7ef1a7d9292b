// Device slice selectors: small named functions, used as `useStudioStore(deviceSelectors.status)`.
// Each returns a value already in the store (no derived arrays/objects), so no useShallow needed.

import type { StudioState } from '../../index.ts';

export const deviceSelectors = {
  status: (s: StudioState) => s.device.status,
  adapter: (s: StudioState) => s.device.adapter,
  limits: (s: StudioState) => s.device.limits,
  features: (s: StudioState) => s.device.features,
  problem: (s: StudioState) => s.device.problem,
};
