// Tests of the worker's data commands (data.ts: previewData, previewLengths), run in Node with the
// reply the worker would post. The preview must be the one the page computed before the work moved
// into the worker: `previewAsBefore` below is the page's old path (src/ui/engine/dataset.ts before,
// over the full token ids: readDatasetRows, inspectRows, tokenizePairs, truncationSummary,
// previewPairs, its histogram), compared field by field on the demo set and on a malformed file;
// the counts also against prepareExamples (the trainer) and known values. Then: progress events,
// lengths without tokenising again, a superseded preview that goes silent, reading failures, and the
// tokenizer read from the demo's folder and from the weight store.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rowNumbering } from '../data/dataset.ts';
import { inspectRows, prepareExamples, type RowIssue, type ValidRow } from '../data/examples.ts';
import { resolveSequenceOptions, type SequenceStyle } from '../data/pairs.ts';
import {
  datasetShape, issuesInFileOrder, lengthHistogram, pairLengths, previewPairs, readDatasetRows, ROW_SHAPES, tokenizePairs, truncationSummary,
  type DataLengthLimits, type DataPreview, type LengthsPreview, type PreviewModel,
} from '../data/preview.ts';
import { loadTokenizer } from '../data/tokenizer.ts';
import { LoadError } from '../errors.ts';
import { createMemoryBackend } from '../store/kv.ts';
import { importCheckpoint } from '../store/import.ts';
import { manifestKey } from '../store/manifest.ts';
import { sourceFromDirectory } from '../store/kv_node.ts';
import { previewData, previewLengths, workerDataDeps, type DataDeps } from './data.ts';
import type { EngineEvent, PreviewDataCommand } from './protocol.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const DEMO_MODEL = join(root, 'public/demo/model');
const readJson = (p: string): object => JSON.parse(readFileSync(join(DEMO_MODEL, p), 'utf8')) as object;
const demoBytes = (): Uint8Array => new Uint8Array(readFileSync(join(root, 'public/demo/preferences/train.jsonl')));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const V = 512; // the demo's vocab_size
let demo: PreviewModel;
const deps: DataDeps = { modelText: async () => demo };

beforeAll(() => {
  demo = { tokenizer: loadTokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json')), vocabSize: V };
});

/** The malformed file of e2e/data_screen.chromium.test.ts: lines 2, 3, 4 and 6 are bad, 7 blank. */
function malformedJsonl(): Uint8Array {
  const good = (q: string, c: string, r: string): string => JSON.stringify({ prompt: [{ role: 'user', content: q }], chosen: [{ role: 'assistant', content: c }], rejected: [{ role: 'assistant', content: r }] });
  return enc(`${[
    good('What is 1 plus 1?', '2.', '3.'),
    '{"prompt": "What is 2 plus 2?", "chosen": "4.",',
    JSON.stringify({ prompt: 'What is 3 plus 3?', chosen: '6.' }),
    JSON.stringify({ prompt: 'What is 4 plus 4?', chosen: '', rejected: '9.' }),
    good('What is 5 plus 5?', '10.', '11.'),
    JSON.stringify({ prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], chosen: [{ role: 'assistant', content: 'Hello.' }], rejected: [{ role: 'assistant', content: 'Go.' }] }),
    '',
    JSON.stringify({ prompt: 'What is 7 plus 7?', chosen: '14.', rejected: '15.', score_chosen: 9, score_rejected: 1, id: 'x7' }),
  ].join('\n')}\n`);
}

/** The page's path before the move (the old bridge), over the full ids: the reference. */
async function previewAsBefore(name: string, bytes: Uint8Array, style: SequenceStyle, limits: DataLengthLimits): Promise<DataPreview> {
  const tok = demo.tokenizer;
  const { ds, issues: lineIssues } = await readDatasetRows(name, bytes);
  const inspected: { valid: ValidRow[]; issues: RowIssue[] } = ds.rows.length === 0 && lineIssues.length > 0 ? { valid: [], issues: [] } : inspectRows(ds.rows, { ...ds, vocabSize: V, hasTokenizer: true });
  const found = issuesInFileOrder([...lineIssues, ...inspected.issues]);
  const shape = datasetShape(ds.rows, inspected.valid);
  const t = (await tokenizePairs(inspected.valid, { ...ds, tokenizer: tok, vocabSize: V, style }))!;
  const { chosen, rejected } = pairLengths(t.pairs);
  const h = lengthHistogram([chosen, rejected]);
  // a pair's length as truncation sees it: the prompt with its longer answer (the first longest pair named)
  const seqLen = t.pairs.map((p) => p.promptIds.length + Math.max(p.chosenIds.length, p.rejectedIds.length));
  const at = seqLen.indexOf(Math.max(...seqLen));
  let lengths: LengthsPreview;
  try {
    const seq = resolveSequenceOptions({ style, maxLength: limits.max_length, maxPromptLength: limits.max_prompt_length });
    lengths = { ...limits, truncation: truncationSummary(t.pairs, seq), preview: previewPairs(t.pairs, tok, seq, 3), settingsProblem: null };
  } catch (e) {
    const err = e as LoadError;
    const what = err.message.split('\n---> HINT:')[0].replace(`${err.where}: `, '');
    lengths = { ...limits, truncation: null, preview: [], settingsProblem: err.hint ? `${what}: ${err.hint}` : what };
  }
  return {
    rows: ds.rows.length + lineIssues.length,
    format: {
      reader: ds.format,
      shapes: shape.shapes.map((s) => ({ shape: s.shape, ...ROW_SHAPES[s.shape], rows: s.rows })),
      targetColumns: shape.targetColumns,
      otherColumns: shape.otherColumns,
      numbering: rowNumbering(ds),
    },
    pairs: t.pairs.length,
    issues: issuesInFileOrder([...found, ...t.issues]),
    histogram: t.pairs.length === 0 ? null : { edges: h.edges, chosen: h.counts[0], rejected: h.counts[1], longest: { tokens: seqLen[at], name: t.pairs[at].name }, median: [...seqLen].sort((a, b) => a - b)[seqLen.length >> 1] },
    sequence_style: style,
    lengths,
  };
}

let nextId = 0;
/** Runs previewData as worker.ts does (the command's id stamped on every answer); the events it sent. */
async function run(name: string, bytes: Uint8Array, s: Partial<Omit<PreviewDataCommand, 'id' | 'type'>> = {}, into: EngineEvent[] = []): Promise<{ id: number; events: EngineEvent[] }> {
  const cmd: PreviewDataCommand = { type: 'previewData', id: ++nextId, file: { name, bytes }, modelId: null, demoBaseUrl: 'http://studio.test/demo/model/', sequence_style: 'trl-0.9', max_length: 512, max_prompt_length: 128, ...s };
  await previewData(cmd, (ev) => into.push({ ...ev, requestId: cmd.id }), deps);
  return { id: cmd.id, events: into };
}
const ofType = <T extends EngineEvent['type']>(events: EngineEvent[], type: T): Extract<EngineEvent, { type: T }>[] => events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);
function lengthsOf(id: number, limits: DataLengthLimits): LengthsPreview {
  const out: EngineEvent[] = [];
  previewLengths({ type: 'previewLengths', id: ++nextId, previewId: id, ...limits }, (ev) => out.push(ev));
  const [ev] = ofType(out, 'dataLengths');
  expect(ev.previewId).toBe(id);
  return ev.lengths;
}

describe('previewData gives the preview the page computed before', () => {
  it('the demo set: dataRead → dataProgress… → dataPreview, equal to the old path, line 1 through the Gemma template', async () => {
    const { events } = await run('train.jsonl', demoBytes());
    expect(events[0].type).toBe('dataRead');
    expect(events[events.length - 1].type).toBe('dataPreview');
    const [read] = ofType(events, 'dataRead');
    expect([read.read.rows, read.read.total, read.read.issues, read.read.format.shapes.map((s) => s.shape)]).toEqual([331, 331, [], ['conversational']]);
    const progress = ofType(events, 'dataProgress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[progress.length - 1]).toMatchObject({ done: 331, total: 331, percent: 100 });
    expect(progress.every((p, i) => p.percent === (100 * p.done) / 331 && p.pairsPerSec >= 0 && (i === 0 || p.done >= progress[i - 1].done))).toBe(true);

    const [{ preview }] = ofType(events, 'dataPreview');
    expect(preview).toEqual(await previewAsBefore('train.jsonl', demoBytes(), 'trl-0.9', { max_length: 512, max_prompt_length: 128 }));
    expect([preview.rows, preview.pairs, preview.lengths.truncation?.truncated, preview.lengths.truncation?.dropped]).toEqual([331, 331, 0, []]);
    expect(preview.lengths.preview.map((p) => p.name)).toEqual(['line 1', 'line 2', 'line 3']);
    expect(preview.lengths.preview[0]).toMatchObject({
      prompt: '<bos><start_of_turn>user\nWhat is 3 times 7?<end_of_turn>\n<start_of_turn>model\n',
      chosen: '3 times 7 is 21.<end_of_turn>\n<eos>',
      rejected: 'I think it is 22.<end_of_turn>\n<eos>',
    });
    expect(preview.histogram!.chosen.reduce((a, b) => a + b, 0)).toBe(331);
  });

  it('previewLengths cuts the held pairs at other limits: the old path\'s numbers and the trainer\'s counts, without tokenising', async () => {
    const { id, events } = await run('train.jsonl', demoBytes());
    const progressBefore = ofType(events, 'dataProgress').length;
    const demoSet = await readDatasetRows('train.jsonl', demoBytes());
    for (const limits of [{ max_length: 40, max_prompt_length: 16 }, { max_length: 30, max_prompt_length: 16 }, { max_length: 24, max_prompt_length: 8 }, { max_length: null, max_prompt_length: 128 }]) {
      const got = lengthsOf(id, limits);
      expect(got).toEqual((await previewAsBefore('train.jsonl', demoBytes(), 'trl-0.9', limits)).lengths);
      const ref = prepareExamples(demoSet.ds.rows, { file: 'train.jsonl', lines: demoSet.ds.lines, tokenizer: demo.tokenizer, vocabSize: V, maxLength: limits.max_length, maxPromptLength: limits.max_prompt_length });
      expect([got.truncation!.truncated, got.truncation!.dropped.length]).toEqual([ref.examples.filter((x) => x.truncated).length, ref.dropped.length]);
    }
    expect(lengthsOf(id, { max_length: 30, max_prompt_length: 16 }).preview[0].tokens).toMatchObject({ prompt: 16, chosen: 12 }); // as the Chromium test shows it
    // a combination TRL 0.9.6 refuses: explained, nothing counted
    const refused = lengthsOf(id, { max_length: 30, max_prompt_length: 64 });
    expect(refused.truncation).toBeNull();
    expect(refused.preview).toEqual([]);
    expect(refused.settingsProblem).toMatch(/^style "trl-0\.9" needs max_prompt_length < max_length, got 64 ≥ 30: completions are cut/);
    expect(ofType(events, 'dataProgress').length).toBe(progressBefore); // no tokenising again
  });

  it('another style (trl) drops pairs whose prompt fills max_length, as the trainer does', async () => {
    const { id } = await run('train.jsonl', demoBytes(), { sequence_style: 'trl', max_length: 22, max_prompt_length: 512 });
    const got = lengthsOf(id, { max_length: 22, max_prompt_length: 512 });
    expect(got).toEqual((await previewAsBefore('train.jsonl', demoBytes(), 'trl', { max_length: 22, max_prompt_length: 512 })).lengths);
    expect(got.truncation!.dropped.length).toBeGreaterThan(0);
  });

  it('a malformed JSONL: rows by line with reasons, the good rows previewed, equal to the old path', async () => {
    const { events } = await run('my_prefs.jsonl', malformedJsonl());
    const [read] = ofType(events, 'dataRead');
    expect(read.read.issues.map((i) => i.name)).toEqual(['line 2', 'line 3', 'line 4']); // line 6 is the template's: found tokenising
    const [{ preview }] = ofType(events, 'dataPreview');
    expect(preview).toEqual(await previewAsBefore('my_prefs.jsonl', malformedJsonl(), 'trl-0.9', { max_length: 512, max_prompt_length: 128 }));
    expect([preview.rows, preview.pairs]).toEqual([7, 3]);
    expect(preview.issues.map((i) => `${i.name} ${i.field}`)).toEqual(['line 2 ', 'line 3 rejected', 'line 4 chosen', 'line 6 prompt']);
    expect(preview.issues[0].reason).toMatch(/^is not valid JSON \(/);
    expect(preview.issues[3].reason).toMatch(/System role not supported/);
    expect(preview.format.shapes.map((s) => s.shape)).toEqual(['conversational', 'standard']);
    expect(preview.format.targetColumns).toEqual([{ column: 'score_chosen', loss: 'gpo' }, { column: 'score_rejected', loss: 'gpo' }]);
    expect(preview.format.otherColumns).toEqual(['id']);
    expect(preview.lengths.preview.map((p) => p.name)).toEqual(['line 1', 'line 5', 'line 8']);
    expect(preview.lengths.preview[2].prompt).toBe('<bos>What is 7 plus 7?');
  });

  it('a file that is no dataset throws the reader\'s LoadError (worker.ts sends it as an error event)', async () => {
    await expect(run('notes.txt', enc('just some notes\n'))).rejects.toThrow(LoadError);
    await expect(run('notes.txt', enc('just some notes\n'))).rejects.toThrow(/notes\.txt: is not a dataset file this reader knows/);
  });
});

describe('one preview at a time', () => {
  it('a newer previewData stops the running one: it sends nothing more, and its pairs are not held', async () => {
    // 40 copies of the demo set: long enough to be caught mid-way
    const big = enc(Array.from({ length: 40 }, () => new TextDecoder().decode(demoBytes())).join(''));
    const first: EngineEvent[] = [];
    const running = run('big.jsonl', big, {}, first);
    await new Promise((r) => setTimeout(r, 300)); // it has read the file and is tokenising
    expect(ofType(first, 'dataRead')).toHaveLength(1);
    const sentBefore = first.length;
    const second = await run('train.jsonl', demoBytes());
    const { id: firstId } = await running;
    expect(ofType(second.events, 'dataPreview')).toHaveLength(1);
    expect(first.length).toBeLessThanOrEqual(sentBefore + 1); // at most the progress of the slice it was in
    expect(ofType(first, 'dataPreview')).toHaveLength(0);
    expect(() => lengthsOf(firstId, { max_length: 40, max_prompt_length: 16 })).toThrow(/is not held/);
    expect(lengthsOf(second.id, { max_length: 40, max_prompt_length: 16 }).truncation!.pairs).toBe(331);
  });
});

describe('the tokenizer the worker reads', () => {
  it('the demo model\'s files from its folder (fetched once), or a stored model\'s from the weight store', async () => {
    const fetched: string[] = [];
    const kv = createMemoryBackend();
    const d = workerDataDeps(() => kv, async (url) => {
      fetched.push(url);
      return new Response(readFileSync(join(DEMO_MODEL, url.replace('http://studio.test/demo/model/', ''))));
    });
    const fromFolder = await d.modelText(null, 'http://studio.test/demo/model/');
    await d.modelText(null, 'http://studio.test/demo/model/');
    expect(fetched.sort()).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => `http://studio.test/demo/model/${f}`));
    expect(fromFolder.vocabSize).toBe(V);
    const line1 = [{ role: 'user', content: 'What is 3 times 7?' }];
    expect(fromFolder.tokenizer!.applyChatTemplate(line1, { addGenerationPrompt: true })).toBe(demo.tokenizer!.applyChatTemplate(line1, { addGenerationPrompt: true }));

    await expect(d.modelText('nope', '')).rejects.toThrow(/model 'nope': is not in the/);
    const { manifest } = await importCheckpoint(kv, await sourceFromDirectory(DEMO_MODEL));
    const stored = await d.modelText(manifest.id, '');
    expect(stored.vocabSize).toBe(V);
    expect(stored.tokenizer!.encode('What is 3 times 7?')).toEqual(demo.tokenizer!.encode('What is 3 times 7?'));
  });

  it('a stored model\'s damaged tokenizer file is refused naming it; without tokenizer files the count has no tokenizer', async () => {
    const kv = createMemoryBackend();
    const { manifest } = await importCheckpoint(kv, await sourceFromDirectory(DEMO_MODEL));
    const x = manifest.extras['tokenizer_config.json'];
    const d = workerDataDeps(() => kv);
    await kv.set(x.key, enc('{"chat_template": '.padEnd(x.bytes, ' '))); // same size, not JSON
    await expect(d.modelText(manifest.id, '')).rejects.toThrow(new RegExp(`stored model '[^']*' \\(${manifest.id}\\), tokenizer_config\\.json: is not valid JSON`));
    await kv.set(x.key, enc('{}')); // another size than the manifest's
    await expect(d.modelText(manifest.id, '')).rejects.toThrow(/tokenizer_config\.json: is missing or damaged in the .*import the model again/s);
    // no tokenizer files at all: counted without a tokenizer (rows of ids still work)
    await kv.set(manifestKey(manifest.id), JSON.parse(JSON.stringify({ ...manifest, extras: {} })));
    expect(await workerDataDeps(() => kv).modelText(manifest.id, '')).toEqual({ tokenizer: null, vocabSize: V });
  });
});
