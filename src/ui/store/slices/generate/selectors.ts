// Generate slice selectors.

import type { StudioState } from '../../index.ts';

export const generateSelectors = {
  prompt: (s: StudioState) => s.generate.prompt,
  values: (s: StudioState) => s.generate.values,
  modelId: (s: StudioState) => s.generate.modelId,
  status: (s: StudioState) => s.generate.status,
  runId: (s: StudioState) => s.generate.runId,
  adapterName: (s: StudioState) => s.generate.adapterName,
  trainedChoice: (s: StudioState) => s.generate.trainedChoice,
  sides: (s: StudioState) => s.generate.sides,
  promptText: (s: StudioState) => s.generate.promptText,
  promptTokens: (s: StudioState) => s.generate.promptTokens,
  loading: (s: StudioState) => s.generate.loading,
  base: (s: StudioState) => s.generate.base,
  trained: (s: StudioState) => s.generate.trained,
  problem: (s: StudioState) => s.generate.problem,
  busy: (s: StudioState) => s.generate.status === 'starting' || s.generate.status === 'loading' || s.generate.status === 'running' || s.generate.status === 'stopping',
};
