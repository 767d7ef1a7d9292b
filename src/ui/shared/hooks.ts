// Small hooks the canvases share: an element's width (ResizeObserver) and the system's colour
// scheme (charts read CSS variables when drawn, so they redraw when it changes).

import { useEffect, useState, type RefObject } from 'react';

/** The element's content width in CSS pixels (0 before layout). */
export function useWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(Math.floor(el.clientWidth));
    const ro = new ResizeObserver((entries) => setWidth(Math.floor(entries[0].contentRect.width)));
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

const darkQuery = (): MediaQueryList | null => (typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null);

/** 'dark' or 'light', following prefers-color-scheme. */
export function useColorScheme(): 'dark' | 'light' {
  const [dark, setDark] = useState(() => darkQuery()?.matches ?? false);
  useEffect(() => {
    const query = darkQuery();
    if (!query) return;
    const on = (e: MediaQueryListEvent): void => setDark(e.matches);
    query.addEventListener('change', on);
    return () => query.removeEventListener('change', on);
  }, []);
  return dark ? 'dark' : 'light';
}
