// Announce slice actions: other slices' actions call say() with a finished sentence.

import { useStudioStore } from '../../index.ts';

export const announceActions = {
  say(message: string): void {
    useStudioStore.setState((s) => ({ announce: { message, seq: s.announce.seq + 1 } }));
  },
};
