// Test helper shared by the model/ tests (not used by the engine itself): runs fn and expects a
// LoadError whose `where` names the file (and tensor/key), whose message contains every fragment,
// and which says what to do (a hint).
import { expect } from 'vitest';
import { LoadError } from '../errors.ts';

export function expectLoadError(fn: () => unknown, where: string, ...fragments: string[]): LoadError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a LoadError').toBeInstanceOf(LoadError);
  const le = err as LoadError;
  expect(le.where).toBe(where);
  for (const f of fragments) expect(le.message).toContain(f);
  expect(le.hint, 'every LoadError says what to do').toBeTruthy();
  return le;
}
