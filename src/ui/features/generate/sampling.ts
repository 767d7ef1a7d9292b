// The Generate screen's sampling settings: what each means (one line, shown under its field) and
// the check that turns the typed strings into the numbers `generate` takes, naming the setting
// and the accepted range when one is off.

import type { SamplingValues } from '../../store/slices/generate/initialState.ts';

export interface SamplingSettings {
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
}

export const SAMPLING_FIELDS: readonly { name: keyof SamplingValues; help: string; step: string; min: string; max?: string }[] = [
  { name: 'temperature', help: '0 picks the most likely token every time (greedy); higher values sample more freely.', step: '0.1', min: '0' },
  { name: 'top_p', help: 'Sample only from the most likely tokens that together reach this probability (1 = all).', step: '0.05', min: '0', max: '1' },
  { name: 'max_new_tokens', help: 'The longest answer in tokens; an answer also ends at <end_of_turn> or <eos>.', step: '1', min: '1', max: '4096' },
  { name: 'seed', help: 'The same seed and settings give the same answer; both models draw with it.', step: '1', min: '0' },
];

/** The settings as numbers, or a problem per setting that is off. */
export function parseSampling(v: SamplingValues): { settings: SamplingSettings | null; problems: Partial<Record<keyof SamplingValues, string>> } {
  const problems: Partial<Record<keyof SamplingValues, string>> = {};
  const num = (name: keyof SamplingValues): number => (v[name].trim() === '' ? NaN : Number(v[name]));
  const temperature = num('temperature');
  if (!(temperature >= 0) || !Number.isFinite(temperature)) problems.temperature = 'temperature must be a number ≥ 0 (0 = greedy).';
  const topP = num('top_p');
  if (!(topP > 0 && topP <= 1)) problems.top_p = 'top_p must be a number above 0 and at most 1.';
  const maxNewTokens = num('max_new_tokens');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 4096) problems.max_new_tokens = 'max_new_tokens must be a whole number from 1 to 4096.';
  const seed = num('seed');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) problems.seed = 'seed must be a whole number from 0 to 4294967295.';
  return { settings: Object.keys(problems).length ? null : { temperature, topP, maxNewTokens, seed }, problems };
}
