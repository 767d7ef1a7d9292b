// The URL hash ↔ screen mapping and the nav slice's moves (a screen takes focus only after the user moved).

import { afterEach, describe, expect, it } from 'vitest';
import { getStudioState, resetStudioStore } from '../store/index.ts';
import { navActions } from '../store/slices/nav/actions.ts';
import { SCREEN_IDS } from '../store/slices/nav/initialState.ts';
import { hashOf, screenFromHash } from './route.ts';
import { SCREENS } from './screens.ts';

afterEach(resetStudioStore);

describe('route', () => {
  it('every screen round-trips through its hash; anything else is the Model screen', () => {
    for (const id of SCREEN_IDS) expect(screenFromHash(hashOf(id))).toBe(id);
    expect(screenFromHash('#/Data')).toBe('data');
    expect(screenFromHash('#data')).toBe('data');
    expect(screenFromHash('#/runs/abc')).toBe('runs');
    for (const h of ['', '#', '#/', '#/nope', '#/models']) expect(screenFromHash(h)).toBe('model');
  });

  it('the navigation names are the ones outside checks use, in this order', () => {
    expect(SCREENS.map((s) => s.label)).toEqual(['Model', 'Data', 'Train', 'Runs', 'Generate', 'Check', 'Export']);
    expect(SCREENS.map((s) => s.id)).toEqual([...SCREEN_IDS]);
    for (const s of SCREENS.filter((x) => x.id !== 'model')) expect(s.coming, s.id).toMatch(/^Coming: [^\n]+\.$/);
  });

  it('opening sets the screen without a move; showing another screen counts a move, the same one does not', () => {
    navActions.opened('data');
    expect(getStudioState().nav).toEqual({ screen: 'data', moves: 0 });
    navActions.shown('data');
    expect(getStudioState().nav.moves).toBe(0);
    navActions.shown('train');
    navActions.shown('model');
    expect(getStudioState().nav).toEqual({ screen: 'model', moves: 2 });
  });
});
