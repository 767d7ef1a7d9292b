// Tests of preview.ts, the Data screen's summary of a dataset. Its counts must be the trainer's:
// truncated / dropped pairs and token counts are compared with prepareExamples (the path training
// takes) on the demo set for every sequence style and several limits; the decoded preview with the
// Gemma template written out; the histogram against a brute-force binning; every row form named;
// JSON lines that are not JSON listed by line; tokenising yields, can be cancelled, and reports
// rows the chat template refuses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from './dataset.ts';
import { inspectRows, prepareExamples, type ValidRow } from './examples.ts';
import { resolveSequenceOptions, type SequenceOptions } from './pairs.ts';
import {
  datasetShape, issuesInFileOrder, lengthHistogram, lengthOnly, pairLengths, previewPairs, readDatasetRows, tokenizePairs, truncationSummary, type TokenizedPair,
} from './preview.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): object => JSON.parse(readFileSync(join(root, p), 'utf8')) as object;
const V = 512; // the demo's vocab_size
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
let tok: Tokenizer;
let demo: Dataset;
let valid: ValidRow[];
const tokenized = new Map<string, TokenizedPair[]>();

beforeAll(async () => {
  tok = loadTokenizer(readJson('public/demo/model/tokenizer.json'), readJson('public/demo/model/tokenizer_config.json'));
  const read = await readDatasetRows('train.jsonl', readFileSync(join(root, 'public/demo/preferences/train.jsonl')));
  expect(read.issues).toEqual([]);
  demo = read.ds;
  const inspected = inspectRows(demo.rows, { ...demo, vocabSize: V, hasTokenizer: true });
  expect(inspected.issues).toEqual([]);
  valid = inspected.valid;
  for (const style of ['trl-0.9', 'trl', 'trl-1.x'] as const) {
    const r = await tokenizePairs(valid, { ...demo, tokenizer: tok, vocabSize: V, style });
    tokenized.set(style, r!.pairs);
  }
});

describe('truncation counts are the trainer\'s (prepareExamples on the demo set)', () => {
  const cases: SequenceOptions[] = [
    { style: 'trl-0.9' }, // defaults 512 / 128: nothing cut
    { style: 'trl-0.9', maxLength: 40, maxPromptLength: 16 },
    { style: 'trl-0.9', maxLength: 24, maxPromptLength: 8, truncationMode: 'keep_start' },
    { style: 'trl-0.9', maxLength: null },
    { style: 'trl', maxLength: 36, maxPromptLength: 512 },
    { style: 'trl', maxLength: 22, maxPromptLength: 512 }, // some prompts (21–24 tokens) fill max_length: dropped
    { style: 'trl', maxLength: 30, maxPromptLength: 10, maxCompletionLength: 6 },
    { style: 'trl-1.x', maxLength: 38 },
    { style: 'trl-1.x', maxLength: 22 },
  ];
  it.each(cases)('%j', (o) => {
    const seq = resolveSequenceOptions(o);
    const s = truncationSummary(tokenized.get(seq.style)!, seq);
    const ref = prepareExamples(demo.rows, { ...o, file: demo.file, lines: demo.lines, tokenizer: tok, vocabSize: V });
    expect(s.pairs).toBe(331);
    expect(s.truncated).toBe(ref.examples.filter((x) => x.truncated).length);
    expect(s.dropped).toEqual(ref.dropped);
    expect(s.pairs - s.dropped.length).toBe(ref.examples.length);
    expect(s.truncated).toBeGreaterThanOrEqual(Math.max(s.promptCut, s.completionCut));
    expect(s.promptCut + s.completionCut).toBeGreaterThanOrEqual(s.truncated);
  });

  it.each(cases)('length-only pairs (lengthOnly, keepIds) give the same counts and lengths: %j', (o) => {
    const seq = resolveSequenceOptions(o);
    const full = tokenized.get(seq.style)!;
    const spans = full.map(lengthOnly);
    expect(truncationSummary(spans, seq)).toEqual(truncationSummary(full, seq));
    expect(pairLengths(spans)).toEqual(pairLengths(full));
    expect(spans[0].promptIds[0]).toBeUndefined(); // no ids are kept
  });

  it('the cases cover none, some and all pairs truncated, and some dropped', () => {
    const count = (o: SequenceOptions): [number, number] => {
      const seq = resolveSequenceOptions(o);
      const s = truncationSummary(tokenized.get(seq.style)!, seq);
      return [s.truncated, s.dropped.length];
    };
    expect(count({ style: 'trl-0.9' })).toEqual([0, 0]);
    const [some] = count({ style: 'trl-0.9', maxLength: 40, maxPromptLength: 16 });
    expect(some).toBeGreaterThan(0);
    expect(some).toBeLessThan(331);
    expect(count({ style: 'trl-0.9', maxLength: 24, maxPromptLength: 8 })[0]).toBe(331);
    const [, dropped] = count({ style: 'trl', maxLength: 22, maxPromptLength: 512 });
    expect(dropped).toBeGreaterThan(0);
  });
});

describe('preview and lengths', () => {
  it('decodes the first pairs as the model reads them: the Gemma template, <bos>, <eos>', () => {
    const [p] = previewPairs(tokenized.get('trl-0.9')!, tok, resolveSequenceOptions({}), 1);
    // train.jsonl line 1: "What is 3 times 7?" → "3 times 7 is 21." / "I think it is 22."
    expect(p.name).toBe('line 1');
    expect(p.prompt).toBe('<bos><start_of_turn>user\nWhat is 3 times 7?<end_of_turn>\n<start_of_turn>model\n');
    expect(p.chosen).toBe('3 times 7 is 21.<end_of_turn>\n<eos>');
    expect(p.rejected).toBe('I think it is 22.<end_of_turn>\n<eos>');
    const ref = prepareExamples(demo.rows.slice(0, 1), { file: 'x.jsonl', tokenizer: tok, vocabSize: V }).examples[0];
    expect(p.tokens).toEqual({ prompt: ref.promptIds.length, chosen: ref.chosenIds.length, rejected: ref.rejectedIds.length });
    expect(p.truncated).toBe(false);
  });

  it('shows a truncated pair cut and a dropped pair whole, with the reason', () => {
    const pairs = tokenized.get('trl')!;
    const [cut] = previewPairs(pairs, tok, resolveSequenceOptions({ style: 'trl', maxLength: 26 }), 1);
    expect(cut.truncated).toBe(true);
    expect(cut.tokens.prompt + cut.tokens.chosen).toBe(26);
    expect(cut.tokensBefore.chosen).toBeGreaterThan(cut.tokens.chosen);
    const [dropped] = previewPairs(pairs, tok, resolveSequenceOptions({ style: 'trl', maxLength: 5 }), 1);
    expect(dropped.dropReason).toMatch(/^the prompt is \d+ tokens after max_prompt_length, ≥ max_length 5/);
    expect(dropped.tokens).toEqual(dropped.tokensBefore);
  });

  it('histogram bins: every value in exactly one bin, widths 1/2/5 × 10^k, at most maxBins', () => {
    const { chosen, rejected } = pairLengths(tokenized.get('trl-0.9')!);
    const series = [chosen, rejected, [0, 3, 999, 1000, 17], Array.from({ length: 200 }, (_, i) => (i * 37) % 1234)];
    for (const maxBins of [5, 12, 30]) {
      for (const s of series) {
        const h = lengthHistogram([s], maxBins);
        const width = h.edges[1] - h.edges[0];
        expect([1, 2, 5].some((m) => Number.isInteger(Math.log10(width / m)) && width / m >= 1)).toBe(true);
        expect(h.counts[0].length).toBeLessThanOrEqual(maxBins);
        // brute force: count each bin's members directly
        h.counts[0].forEach((c, i) => expect(c).toBe(s.filter((v) => v >= h.edges[i] && v < h.edges[i + 1]).length));
        expect(h.counts[0].reduce((a, b) => a + b, 0)).toBe(s.length);
      }
    }
    expect(lengthHistogram([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], 5)).toEqual({ edges: [0, 2, 4, 6, 8, 10], counts: [[2, 2, 2, 2, 2]] });
    expect(lengthHistogram([[], []])).toEqual({ edges: [], counts: [[], []] });
    const both = lengthHistogram([chosen, rejected]);
    expect(both.counts.map((c) => c.reduce((a, b) => a + b, 0))).toEqual([331, 331]);
  });
});

describe('row forms and columns', () => {
  const user = { role: 'user', content: 'Q?' };
  const a = (content: string): { role: string; content: string } => ({ role: 'assistant', content });
  it('names each form, counts rows per form, and lists the extra columns', () => {
    const rows = [
      { prompt: 'Q?', chosen: 'yes', rejected: 'no', score_chosen: 8, score_rejected: 2 },
      { chosen: 'Q? yes', rejected: 'Q? no' },
      { prompt: [user], chosen: [a('yes')], rejected: [a('no')] },
      { chosen: [user, a('yes')], rejected: [user, a('no')] },
      { prompt: 'Q?', chosen: [user, a('yes')], rejected: [user, a('no')], prompt_id: 'x', messages: [] },
      { prompt: [2, 5], chosen: [6], rejected: [7], chosen_probs: 0.7 },
      { prompt: 'Q?', chosen: 'again', rejected: 'no' },
      { prompt: 'Q?', chosen: 5 }, // malformed: not counted in any form
    ];
    const { valid: v } = inspectRows(rows, { file: 'x.json', vocabSize: V, hasTokenizer: true });
    const shape = datasetShape(rows, v);
    expect(shape.shapes).toEqual([
      { shape: 'standard', rows: 2 },
      { shape: 'standard-implicit', rows: 1 },
      { shape: 'conversational', rows: 1 },
      { shape: 'conversational-implicit', rows: 1 },
      { shape: 'ultrafeedback', rows: 1 },
      { shape: 'ids', rows: 1 },
    ]);
    expect(shape.targetColumns).toEqual([{ column: 'score_chosen', loss: 'gpo' }, { column: 'score_rejected', loss: 'gpo' }, { column: 'chosen_probs', loss: 'sppo_single' }]);
    expect(shape.otherColumns).toEqual(['prompt_id', 'messages']);
  });
});

describe('reading and tokenising', () => {
  it('lists JSON lines that are not JSON by line, with the other rows read', async () => {
    const text = ['{"prompt": "a", "chosen": "b", "rejected": "c"}', '{"prompt": "a", "chosen": ', '', '{"chosen": "x"}', 'not json', ''].join('\n');
    const { ds, issues } = await readDatasetRows('bad.jsonl', enc(text));
    expect(ds.rows).toHaveLength(2);
    expect(ds.lines).toEqual([1, 4]);
    expect(issues.map((i) => i.name)).toEqual(['line 2', 'line 5']);
    expect(issues[0].reason).toMatch(/^is not valid JSON \(/);
    const rowIssues = inspectRows(ds.rows, { ...ds, vocabSize: V, hasTokenizer: true }).issues;
    expect(rowIssues.map((i) => `${i.name} ${i.field}`)).toEqual(['line 4 rejected']);
    expect(issuesInFileOrder([...issues, ...rowIssues]).map((i) => i.name)).toEqual(['line 2', 'line 4', 'line 5']);
    // other failures are loadDataset's own errors
    await expect(readDatasetRows('bad.json', enc('{"prompt": '))).rejects.toThrow(/bad.json: is not valid JSON/);
    await expect(readDatasetRows('bad.jsonl', new Uint8Array([0xff, 0xfe, 0x41]))).rejects.toThrow(/is not UTF-8 text/);
  });

  it('yields between slices, reports progress, stops when cancelled', async () => {
    let pauses = 0;
    const progress: number[] = [];
    const r = await tokenizePairs(valid.slice(0, 40), { ...demo, tokenizer: tok, vocabSize: V, style: 'trl-0.9', sliceMs: 0, pause: async () => void pauses++, onProgress: (d) => progress.push(d) });
    expect(r!.pairs).toHaveLength(40);
    expect(pauses).toBeGreaterThanOrEqual(39);
    expect(progress[progress.length - 1]).toBe(40);
    expect(r!.pairs.map((p) => p.promptIds)).toEqual(tokenized.get('trl-0.9')!.slice(0, 40).map((p) => p.promptIds));
    // keepIds: the first pairs keep their ids, the rest only their lengths
    const kept = await tokenizePairs(valid.slice(0, 6), { ...demo, tokenizer: tok, vocabSize: V, style: 'trl-0.9', keepIds: 2 });
    expect(kept!.pairs.slice(0, 2)).toEqual(tokenized.get('trl-0.9')!.slice(0, 2));
    expect(kept!.pairs.slice(2).map((p) => [p.name, p.chosenIds[0], p.chosenIds.length])).toEqual(tokenized.get('trl-0.9')!.slice(2, 6).map((p) => [p.name, undefined, p.chosenIds.length]));
    let n = 0;
    const stopped = await tokenizePairs(valid, { ...demo, tokenizer: tok, vocabSize: V, style: 'trl-0.9', sliceMs: 0, pause: async () => void n++, cancelled: () => n >= 3 });
    expect(stopped).toBeNull();
  });

  it('a row the chat template refuses, or ids past the vocabulary, is an issue naming the row', async () => {
    const rows = [
      { prompt: [{ role: 'system', content: 'Be nice.' }, { role: 'user', content: 'Hi' }], chosen: [{ role: 'assistant', content: 'Hello' }], rejected: [{ role: 'assistant', content: 'Go' }] },
      { prompt: 'Hi', chosen: 'Hello', rejected: 'Go' },
    ];
    const naming = { file: 't.jsonl', lines: [3, 7] };
    const { valid: v, issues } = inspectRows(rows, { ...naming, vocabSize: V, hasTokenizer: true });
    expect(issues).toEqual([]);
    const r = await tokenizePairs(v, { ...naming, tokenizer: tok, vocabSize: V, style: 'trl-0.9' });
    expect(r!.pairs.map((p) => p.name)).toEqual(['line 7']);
    expect(r!.issues).toHaveLength(1);
    expect(r!.issues[0]).toMatchObject({ row: 0, name: 'line 3', field: 'prompt' });
    expect(r!.issues[0].reason).toMatch(/System role not supported/);
    const small = await tokenizePairs(v.slice(1), { ...naming, tokenizer: tok, vocabSize: 10, style: 'trl-0.9' });
    expect(small!.issues[0].reason).toMatch(/tokenizes to id \d+, ≥ the model's vocabulary size 10/);
  });
});
