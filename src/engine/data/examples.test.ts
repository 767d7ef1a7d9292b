// Tests of examples.ts, the one place that validates preference rows: every malformed row form gets
// its own reason naming the row and the field; all malformed rows are collected into one error; each
// accepted form normalises as TRL does; SPPO / GPO columns; empty and all-too-long datasets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, formatIssue, inspectRows, MAX_LISTED, prepareExamples, targetsNeededBy, validateRows, type RowIssue, type ValidateOptions } from './examples.ts';
import { loadTokenizer, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
let tok: Tokenizer;
beforeAll(() => {
  tok = loadTokenizer(readJson(join(root, 'public/demo/tokenizer.json')), readJson(join(root, 'public/demo/tokenizer_config.json')));
});

const user = (content: string): ChatMessage => ({ role: 'user', content });
const asst = (content: string): ChatMessage => ({ role: 'assistant', content });
const V = 512;
const OPTS: ValidateOptions = { file: 'pairs.json', key: 'pairs', vocabSize: V, hasTokenizer: true };
const CONV = { prompt: [user('What is 2 plus 3?')], chosen: [asst('5.')], rejected: [asst('6.')] };

/** The issues of one row (validated alone). */
function issuesOf(row: unknown, o: Partial<ValidateOptions> = {}): RowIssue[] {
  return inspectRows([row], { ...OPTS, ...o }).issues;
}

/** The DatasetError a call throws (fails if it throws something else or nothing). */
function datasetError(f: () => unknown): DatasetError {
  try {
    f();
  } catch (e) {
    if (e instanceof DatasetError) return e;
    throw e;
  }
  throw new Error('expected a DatasetError');
}

describe('every malformed row form has its own reason, row and field', () => {
  it.each<[string, unknown, string, RegExp]>([
    // token-id rows (need only the vocabulary size)
    ['id ≥ V', { prompt: [2], chosen: [5], rejected: [9999] }, 'rejected[0]', /^is number 9999, ≥ the vocabulary size 512 \(config.json vocab_size\); expected a token id, an integer in \[0, 512\)$/],
    ['null id', { prompt: [2, null], chosen: [5], rejected: [6] }, 'prompt[1]', /^is null; expected a token id/],
    ['boolean id', { prompt: [2], chosen: [5, true], rejected: [6] }, 'chosen[1]', /^is boolean true; expected a token id/],
    ['float id', { prompt: [2], chosen: [5], rejected: [6, 1.5] }, 'rejected[1]', /^is number 1.5, not an integer/],
    ['negative id', { prompt: [2], chosen: [-1], rejected: [6] }, 'chosen[0]', /^is number -1, negative/],
    ['string id', { prompt: [2], chosen: [5], rejected: [6, '7'] }, 'rejected[1]', /^is the string "7"; expected a token id/],
    ['nested list', { prompt: [[2, 3]], chosen: [5], rejected: [6] }, 'prompt[0]', /^is a nested list; token ids must be a flat list of integers/],
    ['nested list later', { prompt: [2], chosen: [5, [6]], rejected: [6] }, 'chosen[1]', /nested list/],
    ['several bad ids', { prompt: [2], chosen: [600, 700, 5], rejected: [6] }, 'chosen[0]', /is number 600, .*\(1 more bad id in "chosen"\)$/],
    ['empty id completion', { prompt: [2], chosen: [], rejected: [6] }, 'chosen', /^is an empty list: an empty completion has no token to score/],
    ['empty id prompt', { prompt: [], chosen: [5], rejected: [6] }, 'prompt', /^is an empty list; the first completion token needs a prompt token before it/],
    ['missing chosen (ids)', { prompt: [2], rejected: [6] }, 'chosen', /^is missing; "prompt" holds token ids, so "chosen" must be a non-empty list of token ids/],
    ['missing prompt (ids)', { chosen: [5], rejected: [6] }, 'prompt', /^is missing; "chosen" holds token ids/],
    ['null side (ids)', { prompt: [2], chosen: null, rejected: [6] }, 'chosen', /^is null; expected a non-empty list of token ids/],
    ['ids prompt, text chosen', { prompt: [2], chosen: 'text', rejected: [6] }, 'chosen', /^holds text but "prompt" holds token ids \(mixed forms\)/],
    ['ids chosen, message prompt', { prompt: [user('q')], chosen: [5], rejected: [6] }, 'prompt', /^holds chat messages but "chosen" holds token ids \(mixed forms\)/],
    // the row itself
    ['not an object', 'just text', '', /^is the string "just text"; expected an object with "chosen" and "rejected"/],
    ['an array', [1, 2], '', /^is an array of length 2; expected an object/],
    ['null row', null, '', /^is null; expected an object/],
    // text and message rows
    ['missing chosen', { prompt: 'q', rejected: 'r' }, 'chosen', /^is missing; expected a non-empty string or a non-empty list of \{role, content\} messages/],
    ['missing rejected', { prompt: 'q', chosen: 'c' }, 'rejected', /^is missing/],
    ['chosen null', { prompt: 'q', chosen: null, rejected: 'r' }, 'chosen', /^is null; expected a non-empty string or/],
    ['chosen a number', { prompt: 'q', chosen: 5, rejected: 'r' }, 'chosen', /^is number 5; expected/],
    ['chosen an object', { prompt: 'q', chosen: { text: 'c' }, rejected: 'r' }, 'chosen', /^is an object; expected/],
    ['chosen a boolean', { prompt: 'q', chosen: false, rejected: 'r' }, 'chosen', /^is boolean false; expected/],
    ['empty chosen string', { prompt: 'q', chosen: '', rejected: 'r' }, 'chosen', /^is an empty string: an empty completion has no token to score/],
    ['empty chosen list (messages)', { ...CONV, chosen: [] }, 'chosen', /^is an empty list: an empty completion has no token to score/],
    ['mixed text / messages', { prompt: 'q', chosen: 'c', rejected: [asst('r')] }, 'rejected', /^is a message list but "chosen" is a string \(mixed forms\)/],
    ['message prompt, text completions', { prompt: [user('q')], chosen: 'c', rejected: 'r' }, 'prompt', /^is a message list but "chosen" and "rejected" are strings \(mixed forms\)/],
    ['message not an object', { ...CONV, chosen: [asst('a'), 'b'] }, 'chosen[1]', /^is the string "b"; expected a message object \{role, content\}/],
    ['message without role', { ...CONV, rejected: [{ content: 'x' }] }, 'rejected[0].role', /^is undefined; expected a string \("user" or "assistant"\)/],
    ['content not a string', { ...CONV, prompt: [{ role: 'user', content: ['x'] }] }, 'prompt[0].content', /^is an array of length 1; expected a string/],
    ['prompt a number', { prompt: 3, chosen: 'c', rejected: 'r' }, 'prompt', /^is number 3; expected a string or a list of \{role, content\} messages/],
    ['prompt null', { prompt: null, chosen: 'c', rejected: 'r' }, 'prompt', /^is null; expected a string/],
    ['empty prompt string', { prompt: '', chosen: 'c', rejected: 'r' }, 'prompt', /^is an empty string/],
    ['empty prompt list', { ...CONV, prompt: [] }, 'prompt', /^is an empty list; expected a string or a non-empty list/],
    ['no common beginning (messages)', { chosen: [user('a'), asst('b')], rejected: [user('x'), asst('y')] }, 'prompt', /^is missing and "chosen"\/"rejected" have no common beginning to take it from/],
    ['no common beginning (text)', { chosen: 'blue', rejected: 'green' }, 'prompt', /no common beginning/],
    ['prompt ends with a system turn', { ...CONV, prompt: [user('q'), { role: 'system', content: 'x' }] }, 'prompt', /^ends with a "system" message; TRL accepts only "user" .* or "assistant"/],
  ])('%s', (_name, row, field, reason) => {
    const issues = issuesOf(row);
    expect(issues.length, JSON.stringify(issues)).toBe(1);
    expect(issues[0]).toMatchObject({ row: 0, name: 'pairs[0]', field });
    expect(issues[0].reason).toMatch(reason);
  });

  it('a row with several problems lists each', () => {
    expect(issuesOf({ prompt: 'q' }).map((i) => i.field)).toEqual(['chosen', 'rejected']);
    expect(issuesOf({ prompt: [2, -3], chosen: [V], rejected: 'x' }).map((i) => i.field)).toEqual(['prompt[1]', 'chosen[0]', 'rejected']);
  });

  it('"no tokenizer.json" is said only of otherwise well-formed text and message rows', () => {
    const no = { hasTokenizer: false };
    expect(issuesOf({ prompt: 'q', chosen: 'c', rejected: 'r' }, no)).toEqual([{ row: 0, name: 'pairs[0]', field: 'chosen', reason: 'holds text, but the model folder has no tokenizer.json', hint: expect.stringMatching(/add tokenizer.json/) }]);
    expect(issuesOf(CONV, no)[0].reason).toBe('holds chat messages, but the model folder has no tokenizer.json');
    // Malformed rows get their own reason, never the tokenizer one (the old CLI got these wrong).
    expect(issuesOf({ prompt: 'q', rejected: 'r' }, no).map((i) => i.reason)).toEqual([expect.stringMatching(/^is missing/)]);
    expect(issuesOf({ prompt: [2, null], chosen: [5], rejected: [6] }, no)[0].reason).toMatch(/^is null/);
    expect(issuesOf({ prompt: [[2]], chosen: [5], rejected: [6] }, no)[0].reason).toMatch(/nested list/);
    expect(issuesOf({ prompt: [2], chosen: [true], rejected: [6] }, no)[0].reason).toMatch(/boolean true/);
    expect(issuesOf({ prompt: [2], chosen: [3], rejected: [6] }, no)).toEqual([]);
  });

  it('chat templates that refuse a row are reported per row by prepareExamples', () => {
    const rows = [
      { ...CONV, prompt: [{ role: 'system', content: 'Be brief.' }, user('q')] },
      CONV,
      { ...CONV, prompt: [user('q'), asst('The answer')] }, // continued assistant turn, then an assistant completion
      { ...CONV, rejected: [user('again?')] },
    ];
    const err = datasetError(() => prepareExamples(rows, { file: 'd.jsonl', tokenizer: tok, vocabSize: V }));
    expect(err.issues.map((i) => [i.name, i.field])).toEqual([['line 1', 'prompt'], ['line 3', 'chosen'], ['line 4', 'rejected']]);
    expect(err.issues[0].reason).toBe('cannot be rendered: the chat template raised "System role not supported"');
    expect(err.issues[1].reason).toMatch(/Conversation roles must alternate/);
    expect(err.message).toMatch(/HINT: Gemma-2 has no system role/);
  });

  it('message rows need a chat template', () => {
    const plain = loadTokenizer(readJson(join(root, 'public/demo/tokenizer.json')), { eos_token: '<eos>', bos_token: '<bos>' });
    expect(() => prepareExamples([CONV], { file: 'd.json', tokenizer: plain, vocabSize: V })).toThrow(TokenizerError);
    expect(() => prepareExamples([CONV], { file: 'd.json', tokenizer: plain, vocabSize: V })).toThrow(/has chat-message rows, but tokenizer_config.json has no chat_template/);
    expect(prepareExamples([{ prompt: 'q', chosen: 'c', rejected: 'r' }], { file: 'd.json', tokenizer: plain, vocabSize: V }).examples).toHaveLength(1);
  });

  it('ids the tokenizer produces must fit the model\'s vocabulary', () => {
    const err = datasetError(() => prepareExamples([CONV], { file: 'd.json', tokenizer: tok, vocabSize: 100 }));
    expect(err.issues[0].reason).toMatch(/^tokenizes to id \d+, ≥ the model's vocabulary size 100/);
  });
});

describe('one error lists every malformed row', () => {
  it('collects all rows, names them the way the file counts them, lists 20 and counts the rest', () => {
    const rows: unknown[] = Array.from({ length: 45 }, (_, i) => (i % 3 === 0 ? { prompt: [2], chosen: [5], rejected: [6] } : { prompt: [2], chosen: [5], rejected: [V + i] }));
    const bad = rows.length - 15;
    const err = datasetError(() => validateRows(rows, OPTS));
    expect(err.issues).toHaveLength(bad);
    expect(err.issues.map((i) => i.row)).toEqual(rows.flatMap((_, i) => (i % 3 === 0 ? [] : [i])));
    expect(err.file).toBe('pairs.json');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe(`pairs.json: has ${bad} malformed rows (rows are counted from 0):`);
    expect(lines[1]).toBe(`  pairs[1].rejected[0] is number ${V + 1}, ≥ the vocabulary size ${V} (config.json vocab_size); expected a token id, an integer in [0, ${V})`);
    expect(lines.filter((l) => l.startsWith('  pairs['))).toHaveLength(MAX_LISTED);
    expect(err.message).toContain(`  … and ${bad - MAX_LISTED} more problems`);
  });

  it('row names: jsonl line numbers (blank lines counted), json keys / indexes, parquet indexes', () => {
    const row = { prompt: 'q', rejected: 'r' };
    expect(formatIssue(issuesOf(row, { file: 'a.jsonl', key: null, lines: [7] })[0])).toMatch(/^line 7: chosen is missing/);
    expect(formatIssue(issuesOf(row, { file: 'a.jsonl', key: null })[0])).toMatch(/^line 1: chosen is missing/);
    expect(formatIssue(issuesOf(row, { file: 'a.json', key: null })[0])).toMatch(/^\[0\]\.chosen is missing/);
    expect(formatIssue(issuesOf(row, { file: 'a.json', key: 'rows' })[0])).toMatch(/^rows\[0\]\.chosen is missing/);
    expect(formatIssue(issuesOf(row, { file: 'a.parquet', key: null })[0])).toMatch(/^row 0: chosen is missing/);
    expect(formatIssue(issuesOf('x', { file: 'a.parquet', key: null })[0])).toMatch(/^row 0: the row is the string "x"/);
    expect(datasetError(() => validateRows([row], { ...OPTS, file: 'a.jsonl', key: null })).message).toMatch(/rows are named by their line in the file, counting from 1/);
  });

  it('an empty dataset is an error', () => {
    for (const f of [() => validateRows([], OPTS), () => prepareExamples([], { file: 'pairs.json', tokenizer: tok, vocabSize: V })]) {
      const err = datasetError(f);
      expect(err.message).toMatch(/^pairs.json: has no rows\n---> HINT: a preference dataset needs at least one/);
    }
  });

  it('a dataset whose prompts all exceed max_length is an error naming the limit and a row', () => {
    const rows = [{ prompt: [1, 2, 3, 4, 5], chosen: [6], rejected: [7] }, { prompt: [1, 2, 3, 4, 5, 6], chosen: [6], rejected: [7] }];
    const err = datasetError(() => prepareExamples(rows, { file: 'p.jsonl', tokenizer: null, vocabSize: V, style: 'trl-1.x', maxLength: 4 }));
    expect(err.message).toMatch(/has no row left to train on: all 2 rows were dropped because every prompt is at least max_length \(4\) tokens long — line 1: the prompt is 5 tokens/);
    expect(err.message).toMatch(/HINT: raise --max_length/);
    // One short prompt is enough to train.
    const ok = prepareExamples([...rows, { prompt: [1], chosen: [6], rejected: [7] }], { file: 'p.jsonl', tokenizer: null, vocabSize: V, style: 'trl-1.x', maxLength: 4 });
    expect([ok.examples.map((x) => x.row), ok.dropped.map((d) => d.row)]).toEqual([[2], [0, 1]]);
  });
});

describe('each row form is accepted and normalised', () => {
  it.each<[string, unknown, string, unknown]>([
    ['standard', { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }, 'text', { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }],
    ['implicit prompt', { chosen: 'The sky is blue.', rejected: 'The sky is green.' }, 'text', { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }],
    ['conversational', CONV, 'messages', CONV],
    ['implicit conversational', { chosen: [user('q'), asst('5.')], rejected: [user('q'), asst('6.')] }, 'messages', { prompt: [user('q')], chosen: [asst('5.')], rejected: [asst('6.')] }],
    ['UltraFeedback (string prompt, message lists)', { prompt: 'q', prompt_id: 'x', messages: [], chosen: [user('q'), asst('5.')], rejected: [user('q'), asst('6.')] }, 'messages', { prompt: [user('q')], chosen: [asst('5.')], rejected: [asst('6.')] }],
    ['token ids', { prompt: [2, 3], chosen: [4], rejected: [5, 1] }, 'ids', { prompt: [2, 3], chosen: [4], rejected: [5, 1] }],
    ['extra keys in messages are dropped', { prompt: [{ role: 'user', content: 'q', name: 'x' }], chosen: [asst('a')], rejected: [asst('b')] }, 'messages', { prompt: [user('q')], chosen: [asst('a')], rejected: [asst('b')] }],
  ])('%s', (_name, row, form, content) => {
    const [v] = validateRows([row], OPTS);
    expect(v).toEqual({ row: 0, content: { form, ...(content as object) }, targets: {} });
    expect(prepareExamples([row], { file: 'x.json', tokenizer: tok, vocabSize: V }).examples).toHaveLength(1);
  });
});

describe('SPPO and GPO columns', () => {
  const base = { prompt: [2], chosen: [5], rejected: [6] };

  it('maps loss types to the columns they read', () => {
    expect(targetsNeededBy(['sigmoid', 'sft'])).toEqual([]);
    expect(targetsNeededBy(['sppo'])).toEqual(['sppo']);
    expect(targetsNeededBy(['gpo', 'sppo_single'])).toEqual(['sppo_single', 'gpo']);
  });

  it('read into targets when valid', () => {
    const row = { ...base, chosen_probs: 0.7, chosen_probs_win: 1, chosen_probs_lose: 0, score_chosen: -3.5, score_rejected: 2 };
    expect(validateRows([row], { ...OPTS, needs: ['sppo', 'sppo_single', 'gpo'] })[0].targets).toEqual({ chosenProbs: 0.7, chosenProbsWin: 1, chosenProbsLose: 0, scoreChosen: -3.5, scoreRejected: 2 });
    expect(prepareExamples([row], { file: 'x.json', tokenizer: null, vocabSize: V, needs: 'sppo' }).examples[0].targets).toMatchObject({ chosenProbsWin: 1, chosenProbsLose: 0 });
  });

  it.each<[string, unknown, 'sppo' | 'sppo_single' | 'gpo', string, RegExp]>([
    ['sppo without its columns', base, 'sppo', 'chosen_probs_win', /^is missing; loss_type sppo needs it$/],
    ['sppo probability > 1', { ...base, chosen_probs_win: 1.5, chosen_probs_lose: 0.2 }, 'sppo', 'chosen_probs_win', /^is 1.5, outside \[0, 1\]; it is a probability$/],
    ['sppo probability < 0', { ...base, chosen_probs_win: 0.5, chosen_probs_lose: -0.1 }, 'sppo', 'chosen_probs_lose', /outside \[0, 1\]/],
    ['sppo probability a string', { ...base, chosen_probs_win: '0.5', chosen_probs_lose: 0.1 }, 'sppo', 'chosen_probs_win', /^is the string "0.5"; expected a finite number in \[0, 1\]/],
    ['sppo probability NaN (Parquet)', { ...base, chosen_probs_win: NaN, chosen_probs_lose: 0.1 }, 'sppo', 'chosen_probs_win', /^is number NaN; expected a finite number/],
    ['sppo_single without chosen_probs', { ...base, chosen_probs_win: 0.5 }, 'sppo_single', 'chosen_probs', /^is missing; loss_type sppo_single needs it$/],
    ['gpo score null', { ...base, score_chosen: null, score_rejected: 1 }, 'gpo', 'score_chosen', /^is null; expected a finite number$/],
  ])('%s', (_name, row, need, field, reason) => {
    const issues = issuesOf(row, { needs: need });
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0].field).toBe(field);
    expect(issues[0].reason).toMatch(reason);
    expect(issues[0].hint).toMatch(new RegExp(`loss_type ${need} reads "${field}"`));
    expect(issuesOf(row)).toEqual([]); // a loss that does not read the column ignores it
  });

  it('both missing sppo columns are listed', () => {
    expect(issuesOf(base, { needs: 'sppo' }).map((i) => i.field)).toEqual(['chosen_probs_win', 'chosen_probs_lose']);
    expect(() => validateRows([base], { ...OPTS, needs: 'dpo' as 'gpo' })).toThrow(/needs must be "sppo", "sppo_single" or "gpo"/);
  });
});
