// The one-line help of each training setting, as `prefstudio train --help` prints it: read from the
// CLI's command table (src/cli/commands.ts) so the Train screen and the CLI say the same thing.
//
// NOTE: commands.ts cannot be imported into the page's bundle (its handlers import Node modules and
// the CLI's engine entry, which vite.config.ts's guard refuses), so the page takes the file's text
// (Vite's `?raw`) and reads the help strings out of it: the train command's own flags and its
// overrides of the shared ones (`pick([...], { max_grad_norm: { help } })`) over the shared table.
// flagHelp.test.ts checks, in Node, that every setting's text equals COMMANDS' train flag help, so a
// change in commands.ts that this reader does not follow fails that test rather than the page.

import source from '../../../cli/commands.ts?raw';

/** A single-quoted JS string literal's text (the table writes help strings that way). */
const unquote = (s: string): string => s.replace(/\\(.)/g, '$1');

/** `name: { … help: '…' }` (the shared table; pick's changes `{ name: { help } }`) and `{ name: 'x', … help: '…' }` (inline flags). */
const HELP = /(?:(?:^\s*|\{ )(\w+): \{|\{ name: '(\w+)',)[^\n]*?help: '((?:[^'\\\n]|\\.)*)'/gm;

function helpIn(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(HELP)) out.set(m[1] ?? m[2], unquote(m[3]));
  return out;
}

/** The train command's block of the table: from its `name: 'train'` to the next command's (at the same indent). */
function trainBlock(text: string): string {
  const start = text.search(/^ {4}name: 'train',/m);
  if (start < 0) return '';
  const next = text.slice(start + 1).search(/^ {4}name: '/m);
  return text.slice(start, next < 0 ? undefined : start + 1 + next);
}

/** The shared flags' table: `const SHARED … = {` up to the first command-table helper after it. */
function sharedBlock(text: string): string {
  const start = text.indexOf('const SHARED');
  const end = text.indexOf('\nfunction ', start);
  return start < 0 ? '' : text.slice(start, end < 0 ? undefined : end);
}

/** Setting name → the train command's help line (shared flags first, the train command's own over them). */
export const TRAIN_FLAG_HELP: ReadonlyMap<string, string> = new Map([...helpIn(sharedBlock(source)), ...helpIn(trainBlock(source))]);

/** The help line of `name` for `prefstudio train`, or '' when the table has none. */
export const flagHelp = (name: string): string => TRAIN_FLAG_HELP.get(name) ?? '';
