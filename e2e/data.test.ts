// `prefstudio tokenize` (src/cli/tokenize.ts, called directly: no GPU, no weights) and bad data files
// end to end: a model folder holding only config.json + tokenizer files, dataset files on disk in
// every format. Text and chat ids are checked against an independent tokenizer implementation
// (@lenml/tokenizers) and the Gemma chat format written out by hand (spec gemma2-and-formats.md §2).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { sequenceStyleHelp, tokenizeCommand, type TokenizeOptions } from '../src/cli/tokenize.ts';
import { DatasetError } from '../src/engine/data/examples.ts';
import { EngineError } from '../src/engine/errors.ts';

const root = join(import.meta.dirname, '..');
const demo = join(root, 'public', 'demo');
let dir: string; // scratch
let model: string; // config.json + tokenizer.json + tokenizer_config.json, no weights
let bare: string; // config.json only
let lenml: { encode(text: string, o: { add_special_tokens: boolean }): number[] };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefstudio-data-'));
  model = join(dir, 'model');
  bare = join(dir, 'bare');
  for (const d of [model, bare]) {
    mkdirSync(d);
    copyFileSync(join(demo, 'model', 'config.json'), join(d, 'config.json'));
  }
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(demo, f), join(model, f));
  const read = (f: string): object => JSON.parse(readFileSync(join(demo, f), 'utf8')) as object;
  lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: read('tokenizer.json'), tokenizerConfig: read('tokenizer_config.json') } as Parameters<typeof TokenizerLoader.fromPreTrained>[0]) as unknown as typeof lenml;
});

/** Runs the command; returns its stdout JSON and stderr lines. */
async function tokenize(opts: Omit<TokenizeOptions, 'model'> & { model?: string }): Promise<{ out: any; log: string[] }> {
  let stdout = '';
  const log: string[] = [];
  await tokenizeCommand({ model, ...opts }, { stdout: (s) => (stdout += s), log: (s) => log.push(s) });
  expect(stdout.endsWith('\n')).toBe(true);
  return { out: JSON.parse(stdout), log };
}

async function failure(opts: Omit<TokenizeOptions, 'model'> & { model?: string }): Promise<EngineError> {
  try {
    await tokenize(opts);
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error('expected an EngineError');
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('prefstudio tokenize --text', () => {
  it('{"ids"}: special tokens added by default (Gemma: <bos>), as transformers; --add_special_tokens false leaves them out', async () => {
    const text = 'What is 12 plus 7? Übersetze «café».';
    expect((await tokenize({ text })).out).toEqual({ ids: lenml.encode(text, { add_special_tokens: true }) });
    expect((await tokenize({ text })).out.ids[0]).toBe(2);
    expect((await tokenize({ text, add_special_tokens: false })).out).toEqual({ ids: lenml.encode(text, { add_special_tokens: false }) });
  });

  it('needs tokenizer.json; never opens weights (the folder has none)', async () => {
    expect((await failure({ model: bare, text: 'x' })).message).toMatch(/bare: has no tokenizer.json, which --text needs/);
    expect((await failure({ model: join(dir, 'nowhere'), text: 'x' })).message).toMatch(/nowhere: cannot be read as a checkpoint directory/);
  });

  it('exactly one of --text, --chat, --pairs', async () => {
    expect((await failure({})).message).toMatch(/nothing to tokenize[\s\S]*give exactly one of --text TEXT, --chat FILE, --pairs FILE/);
    expect((await failure({ text: 'a', pairs: 'b' })).message).toMatch(/--text and --pairs cannot be given together/);
  });
});

describe('prefstudio tokenize --chat', () => {
  const messages = [{ role: 'user', content: ' Hi ' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'What is 2 plus 3?' }];

  it('{"text", "ids"}: the rendered template, and its ids without added special tokens (no second <bos>)', async () => {
    const chat = file('chat.json', JSON.stringify({ messages }));
    const want = '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nWhat is 2 plus 3?<end_of_turn>\n';
    expect((await tokenize({ chat })).out).toEqual({ text: want, ids: lenml.encode(want, { add_special_tokens: false }) });
    const gen = (await tokenize({ chat, add_generation_prompt: true })).out;
    expect(gen.text).toBe(`${want}<start_of_turn>model\n`);
    expect(gen.ids.filter((id: number) => id === 2)).toEqual([2]);
  });

  it('bad chat files are named', async () => {
    expect((await failure({ chat: file('c1.json', '{"msgs": []}') })).message).toMatch(/c1.json: must be a JSON object with a "messages" list/);
    expect((await failure({ chat: file('c2.json', '{"messages": [{"role": "user"}]}') })).message).toMatch(/c2.json: messages\[0\] is an object; expected \{"role": string, "content": string\}/);
    expect((await failure({ chat: file('c3.json', '{"messages": [{"role": "system", "content": "x"}]}') })).message).toMatch(/c3.json: cannot be rendered: the chat template raised "System role not supported"\n---> HINT: Gemma-2 has no system role/);
    expect((await failure({ chat: file('c4.json', '{"messages": [') })).message).toMatch(/c4.json: is not valid JSON/);
  });
});

describe('prefstudio tokenize --pairs', () => {
  interface Sample { prompt: string; prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }
  const samples = (): Sample[] => (JSON.parse(readFileSync(join(demo, 'samples.json'), 'utf8')) as { samples: Sample[] }).samples;

  it('the demo preference set: exactly the ids the demo model was trained and scored on (default style trl-0.9)', async () => {
    const rows = readFileSync(join(demo, 'preferences', 'test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: { content: string }[] });
    const { out, log } = await tokenize({ pairs: join(demo, 'preferences', 'test.jsonl') });
    expect(out.pairs).toHaveLength(rows.length);
    expect(Object.keys(out.pairs[0]).sort()).toEqual(['chosen_ids', 'prompt_ids', 'rejected_ids', 'truncated']);
    let matched = 0;
    for (const s of samples()) {
      const i = rows.findIndex((r) => r.prompt[0].content === s.prompt);
      if (i < 0) continue;
      expect(out.pairs[i], s.prompt).toEqual({ prompt_ids: s.prompt_ids, chosen_ids: s.chosen_ids, rejected_ids: s.rejected_ids, truncated: false });
      matched++;
    }
    expect(matched).toBeGreaterThan(3);
    expect(log[0]).toMatch(/^tokenize: 50 pairs from 50 rows \(sequence style trl-0.9, max_length 512, max_prompt_length 128, keep_end\)/);
  });

  it('Parquet in the UltraFeedback layout gives the same pairs as the same rows in JSON lines', async () => {
    const fromJsonl = (await tokenize({ pairs: join(demo, 'preferences', 'test.jsonl') })).out.pairs.slice(0, 8);
    expect((await tokenize({ pairs: join(root, 'e2e', 'fixtures', 'data', 'ultrafeedback_demo.parquet') })).out.pairs).toEqual(fromJsonl);
  });

  it('sequence options: style and limits as the trainer applies them; dropped rows are left out and named on stderr', async () => {
    const pairs = file('p.jsonl', [
      JSON.stringify({ prompt: [2, 10, 11, 12, 13, 14], chosen: [20, 21, 22], rejected: [30] }),
      '',
      JSON.stringify({ prompt: [2, 10], chosen: [20, 21, 22], rejected: [30] }),
    ].join('\n'));
    const a = await tokenize({ pairs, sequence_style: 'trl-1.x', max_length: 5 });
    expect(a.out).toEqual({ pairs: [{ prompt_ids: [2, 10], chosen_ids: [20, 21, 22], rejected_ids: [30], truncated: false }] });
    expect(a.log).toContain(`warning: ${pairs}: line 1 dropped: the prompt is 6 tokens, ≥ max_length 5, leaving no room for a completion`);
    const b = await tokenize({ pairs, sequence_style: 'trl', max_prompt_length: 2, max_completion_length: 2 });
    expect(b.out.pairs.map((p: { prompt_ids: number[]; chosen_ids: number[]; truncated: boolean }) => [p.prompt_ids, p.chosen_ids, p.truncated])).toEqual([[[13, 14], [20, 21], true], [[2, 10], [20, 21], true]]);
    const c = await tokenize({ pairs, max_length: 6, max_prompt_length: 3 }); // trl-0.9: keep_end prompt cut, then completions to 6 − 3
    expect(c.out.pairs[0]).toEqual({ prompt_ids: [12, 13, 14], chosen_ids: [20, 21, 22], rejected_ids: [30], truncated: true });
    expect((await failure({ pairs, sequence_style: 'trl-2' })).message).toMatch(/sequence style the string "trl-2" is not one of/);
    expect((await failure({ pairs, sequence_style: 'trl-1.x', max_prompt_length: 3 })).message).toMatch(/"trl-1.x" has only max_length/);
  });

  it('a model folder without a tokenizer takes token-id rows, and names text rows', async () => {
    const ids = file('ids.json', JSON.stringify({ pairs: [{ prompt: [2, 3], chosen: [4], rejected: [5] }] }));
    expect((await tokenize({ model: bare, pairs: ids })).out.pairs).toEqual([{ prompt_ids: [2, 3], chosen_ids: [4], rejected_ids: [5], truncated: false }]);
    const text = file('text.json', JSON.stringify({ pairs: [{ prompt: [2], chosen: [4], rejected: [5] }, { prompt: 'Hi', chosen: 'a', rejected: 'b' }] }));
    expect((await failure({ model: bare, pairs: text })).message).toMatch(/pairs\[1\]\.chosen holds text, but the model folder has no tokenizer.json/);
  });

  it('bad data files: every malformed row named by line and field, an empty dataset, all prompts too long', async () => {
    const bad = file('bad.jsonl', [
      JSON.stringify({ prompt: [2], chosen: [5], rejected: [9999] }),
      JSON.stringify({ prompt: 'q', rejected: 'r' }),
      '',
      JSON.stringify({ prompt: [2, null], chosen: [5], rejected: [6] }),
      JSON.stringify({ prompt: [[2]], chosen: [5], rejected: [6] }),
      JSON.stringify({ prompt: [2], chosen: [], rejected: [6] }),
      JSON.stringify({ prompt: [2], chosen: 'text', rejected: [6] }),
      JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }),
    ].join('\n'));
    const err = await failure({ pairs: bad });
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message.split('\n').slice(0, 7)).toEqual([
      `${bad}: has 6 malformed rows (rows are named by their line in the file, counting from 1):`,
      '  line 1: rejected[0] is number 9999, ≥ the vocabulary size 512 (config.json vocab_size); expected a token id, an integer in [0, 512)',
      '  line 2: chosen is missing; expected a non-empty string or a non-empty list of {role, content} messages',
      '  line 4: prompt[1] is null; expected a token id, an integer in [0, 512)',
      '  line 5: prompt[0] is a nested list; token ids must be a flat list of integers',
      '  line 6: chosen is an empty list: an empty completion has no token to score; expected a non-empty list of token ids (integers in [0, 512))',
      '  line 7: chosen holds text but "prompt" holds token ids (mixed forms)',
    ]);
    expect((await failure({ pairs: file('empty.jsonl', '\n') })).message).toMatch(/empty.jsonl: has no rows/);
    const long = file('long.json', JSON.stringify([{ prompt: [2, 3, 4, 5], chosen: [6], rejected: [7] }]));
    expect((await failure({ pairs: long, sequence_style: 'trl', max_length: 4 })).message).toMatch(/long.json: has no row left to train on: all 1 rows were dropped because every prompt is at least max_length \(4\) tokens long — \[0\]: the prompt is 4 tokens/);
    expect((await failure({ pairs: join(dir, 'missing.jsonl') })).message).toMatch(/missing.jsonl: cannot be read/);
  });

  it('--help text names the default sequence style and how to pick another', () => {
    const help = sequenceStyleHelp();
    expect(help).toMatch(/^Sequence rules \(--sequence_style\): the default is "trl-0.9", TRL 0.9.6 \(pinned by the SimPO, WPO and SPPO repos; the default\)\. Pick another with --sequence_style NAME:/);
    for (const s of ['trl-0.9 — ', 'trl — TRL 0.12–0.28', 'trl-1.x — TRL ≥ 0.29']) expect(help).toContain(s);
  });
});
