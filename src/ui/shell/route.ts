// The screen in the URL: `#/<screen id>` (e.g. #/data), so a reload and the back button keep the
// screen. Anything else opens the Model screen.

import { SCREEN_IDS, type ScreenId } from '../store/slices/nav/initialState.ts';

export function screenFromHash(hash: string): ScreenId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0].toLowerCase();
  return (SCREEN_IDS as readonly string[]).includes(id) ? (id as ScreenId) : 'model';
}

export const hashOf = (screen: ScreenId): string => `#/${screen}`;
