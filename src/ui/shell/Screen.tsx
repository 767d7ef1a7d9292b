// One screen's frame: its heading (focused after the user navigated here, so keyboard and screen
// reader users land on the new screen) and one line saying what it is for; screens still to come
// show their placeholder line.

import { useEffect, useRef, type ReactNode } from 'react';
import { useStudioStore } from '../store/index.ts';
import { navSelectors } from '../store/slices/nav/selectors.ts';
import type { ScreenId } from '../store/slices/nav/initialState.ts';
import { screenInfo } from './screens.ts';

export function Screen({ id, children }: { id: ScreenId; children?: ReactNode }) {
  const info = screenInfo(id);
  const moves = useStudioStore(navSelectors.moves);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (moves > 0) heading.current?.focus();
  }, [moves]);

  return (
    <section aria-labelledby={`screen-${id}`} data-testid={`screen-${id}`}>
      <div className="screen-head">
        <h2 id={`screen-${id}`} tabIndex={-1} ref={heading}>{info.label}</h2>
        <p>{info.description}</p>
      </div>
      {children ?? <p className="coming" data-testid="coming">{info.coming}</p>}
    </section>
  );
}
