// The Generate screen's sampling settings: typed strings → numbers, each bad one named with its range.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING } from '../../store/slices/generate/initialState.ts';
import { parseSampling } from './sampling.ts';

describe('parseSampling', () => {
  it('takes the defaults (greedy, prefstudio generate\'s) and typed values', () => {
    expect(parseSampling(DEFAULT_SAMPLING)).toEqual({ settings: { temperature: 0, topP: 1, maxNewTokens: 64, seed: 0 }, problems: {} });
    expect(parseSampling({ temperature: '0.7', top_p: '0.9', max_new_tokens: '12', seed: '4294967295' }).settings).toEqual({ temperature: 0.7, topP: 0.9, maxNewTokens: 12, seed: 4294967295 });
  });

  it('names every setting that is off', () => {
    const r = parseSampling({ temperature: '-1', top_p: '0', max_new_tokens: '2.5', seed: '' });
    expect(r.settings).toBeNull();
    expect(r.problems).toEqual({
      temperature: 'temperature must be a number ≥ 0 (0 = greedy).',
      top_p: 'top_p must be a number above 0 and at most 1.',
      max_new_tokens: 'max_new_tokens must be a whole number from 1 to 4096.',
      seed: 'seed must be a whole number from 0 to 4294967295.',
    });
    expect(Object.keys(parseSampling({ ...DEFAULT_SAMPLING, top_p: '1.01', temperature: 'abc' }).problems)).toEqual(['temperature', 'top_p']);
  });
});
