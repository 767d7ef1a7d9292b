// Checks a real Gemma-2 tokenizer (a folder with tokenizer.json [+ tokenizer_config.json], e.g. from
// google/gemma-2-2b-it) against the spec's test vectors (shared/specs/gemma2-and-formats.md §2, from
// tokenizers.js' Gemma tests). Not part of `npm test`: the files cannot be downloaded in CI.
//   node --import tsx scripts/check_gemma2_tokenizer.ts /path/to/gemma-2-2b-it
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../src/engine/data/tokenizer.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node --import tsx scripts/check_gemma2_tokenizer.ts DIR');
  process.exit(2);
}
const readJson = (p: string): object => JSON.parse(readFileSync(p, 'utf8')) as object;
const cfgPath = join(dir, 'tokenizer_config.json');
const t = loadTokenizer(readJson(join(dir, 'tokenizer.json')), existsSync(cfgPath) ? readJson(cfgPath) : {});
const checks: [string, unknown, unknown][] = [
  ['vocabSize', t.vocabSize, 256000],
  ['pad/eos/bos/unk ids', [t.padId, t.eosId, t.bosId, t.unkId], [0, 1, 2, 3]],
  ['<start_of_turn>/<end_of_turn>/\\n ids', [t.tokenToId('<start_of_turn>'), t.tokenToId('<end_of_turn>'), t.tokenToId('\n')], [106, 107, 108]],
  ['Hello World', t.encode('Hello World'), [2, 4521, 3855]],
  ['hello world', t.encode('hello world'), [2, 17534, 2134]],
  ['How are you doing?', t.encode('How are you doing?'), [2, 2299, 708, 692, 3900, 235336]],
  ['   leading space', t.encode('   leading space'), [2, 140, 26650, 3641]],
  ['def main():\\n\\tpass', t.encode('def main():\n\tpass'), [2, 1293, 1872, 4409, 108, 226, 3095]],
  ['1\\u00002\\ufffd3', t.encode('1\u00002\ufffd3'), [2, 235274, 217, 235284, 236193, 235304]],
];
let failed = 0;
for (const [what, got, want] of checks) {
  const ok = JSON.stringify(got) === JSON.stringify(want);
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(got)}${ok ? '' : ` (expected ${JSON.stringify(want)})`}`);
}
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
