// The studio's one status region: screen readers read out each new message of the announce slice
// (import progress and outcome, deletes, an interrupted import found after a reload). Visually
// hidden: the same facts are on screen where they happened.

import { useStudioStore } from '../store/index.ts';
import { announceSelectors } from '../store/slices/announce/selectors.ts';

export function Announcer() {
  const message = useStudioStore(announceSelectors.message);
  const seq = useStudioStore(announceSelectors.seq);
  return (
    <div role="status" aria-live="polite" aria-atomic="true" className="visually-hidden" data-testid="announcer" data-seq={seq}>
      {message}
    </div>
  );
}
