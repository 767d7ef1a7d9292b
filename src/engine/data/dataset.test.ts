// Tests of dataset.ts: .jsonl / .json / .parquet bytes → rows, with the row naming messages use.
// Parquet: the committed fixtures (scripts/data/make_parquet_fixtures.ts: Hub layouts with nested
// list<struct> message columns and list<int64> ids) must read back as the plain values they were
// written from, and files written here exercise nulls, BigInt and damaged input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { LoadError } from '../errors.ts';
import { datasetFormat, loadDataset, readDataset, rowName } from './dataset.ts';
import { prepareExamples, validateRows } from './examples.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function loadError(name: string, b: Uint8Array): Promise<LoadError> {
  try {
    await readDataset(name, b);
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  throw new Error('expected a LoadError');
}

describe('JSON lines', () => {
  it('one row per non-blank line; line numbers kept for messages (CRLF, BOM, blank lines)', async () => {
    const ds = await loadDataset('d.jsonl', bytes('\ufeff{"a": 1}\r\n\n  \n{"a": 2}\n[3]\n'));
    expect(ds).toEqual({ file: 'd.jsonl', format: 'jsonl', rows: [{ a: 1 }, { a: 2 }, [3]], lines: [1, 4, 5], key: null });
    expect([0, 1, 2].map((i) => rowName(ds, i))).toEqual(['line 1', 'line 4', 'line 5']);
    expect(await readDataset('d.ndjson', bytes('{"a": 1}'))).toEqual([{ a: 1 }]);
  });

  it('every line that is not JSON is named', async () => {
    const err = await loadError('d.jsonl', bytes('{"a": 1}\n{"a": \n{"b": 2}\nnot json\n'));
    expect(err.message).toMatch(/^d.jsonl: has 2 lines that are not valid JSON:\n {2}line 2: .*\n {2}line 4: /);
    expect(err.message).toMatch(/HINT: each non-blank line of a .jsonl file must be one complete JSON object/);
  });

  it('an empty file has no rows (examples.ts reports that)', async () => {
    expect(await readDataset('d.jsonl', bytes('\n\n'))).toEqual([]);
  });
});

describe('JSON', () => {
  it.each([
    ['an array', '[{"a": 1}]', null],
    ['{"pairs": [...]} (the logps format)', '{"pairs": [{"a": 1}]}', 'pairs'],
    ['{"rows": [...]}', '{"rows": [{"a": 1}], "meta": 3}', 'rows'],
    ['{"data": [...]}', '{"data": [{"a": 1}]}', 'data'],
  ])('%s', async (_name, text, key) => {
    const ds = await loadDataset('d.json', bytes(text));
    expect([ds.rows, ds.key, ds.format]).toEqual([[{ a: 1 }], key, 'json']);
    expect(rowName(ds, 0)).toBe(key === null ? '[0]' : `${key}[0]`);
  });

  it.each([
    ['invalid JSON', '{"pairs": [', /^d.json: is not valid JSON \(/],
    ['an object without rows', '{"train": [], "n": 2}', /is a JSON object without a row array \(keys: "train", "n"\)[\s\S]*HINT: give an array of rows, or an object \{"pairs": \[...\]\}/],
    ['a number', '3', /holds number 3, not rows/],
  ])('%s is refused', async (_name, text, message) => {
    expect((await loadError('d.json', bytes(text))).message).toMatch(message);
  });

  it('text that is not UTF-8 is refused', async () => {
    expect((await loadError('d.json', new Uint8Array([0x5b, 0xff, 0x5d]))).message).toMatch(/is not UTF-8 text/);
  });
});

describe('format', () => {
  it('comes from the extension (Parquet also from its magic)', () => {
    expect(datasetFormat('a/B.JSONL')).toBe('jsonl');
    expect(datasetFormat('x.json')).toBe('json');
    expect(datasetFormat('x.parquet')).toBe('parquet');
    expect(datasetFormat('train-00000-of-00001', readFileSync(join(root, 'e2e/fixtures/data/ids_sppo.parquet')))).toBe('parquet');
    expect(() => datasetFormat('x.csv', bytes('a,b'))).toThrow(/x.csv: is not a dataset file this reader knows \(its name must end with .jsonl, .json or .parquet\)/);
  });
});

describe('Parquet (hyparquet)', () => {
  it('the UltraFeedback-layout fixture: nested message lists come out as plain arrays of plain objects', async () => {
    const demo = readFileSync(join(root, 'public/demo/preferences/test.jsonl'), 'utf8').trim().split('\n').slice(0, 8).map((l) => JSON.parse(l) as Record<string, { role: string; content: string }[]>);
    const ds = await loadDataset('ultrafeedback_demo.parquet', readFileSync(join(root, 'e2e/fixtures/data/ultrafeedback_demo.parquet')));
    expect(ds.format).toBe('parquet');
    expect(rowName(ds, 3)).toBe('row 3');
    expect(ds.rows).toEqual(demo.map((r, i) => ({
      prompt: r.prompt[0].content,
      prompt_id: `demo-${i}`,
      chosen: [...r.prompt, ...r.chosen],
      rejected: [...r.prompt, ...r.rejected],
      score_chosen: 8 + i / 4,
      score_rejected: 2 - i / 8,
    })));
    const row = ds.rows[0] as { chosen: unknown[] };
    expect(Array.isArray(row.chosen)).toBe(true);
    expect(Object.getPrototypeOf(row.chosen[0])).toBe(Object.prototype);
    // …and they are rows the trainer accepts: the string prompt is replaced by the extracted one.
    const valid = validateRows(ds.rows, { ...ds, vocabSize: 512, hasTokenizer: true, needs: 'gpo' });
    expect(valid[0].content).toEqual({ form: 'messages', prompt: demo[0].prompt, chosen: demo[0].chosen, rejected: demo[0].rejected });
    expect(valid[1].targets).toEqual({ scoreChosen: 8.25, scoreRejected: 1.875 });
  });

  it('the token-id fixture: INT64 lists (BigInt) come out as numbers, SPPO columns as targets', async () => {
    const rows = await readDataset('ids_sppo.parquet', readFileSync(join(root, 'e2e/fixtures/data/ids_sppo.parquet')));
    expect(rows).toEqual([
      { prompt: [2, 106, 1645], chosen: [300, 1], rejected: [301], chosen_probs: 0.75, chosen_probs_win: 0.9, chosen_probs_lose: 0.1 },
      { prompt: [2, 7], chosen: [255999], rejected: [5, 6, 1], chosen_probs: 0.5, chosen_probs_win: 0.625, chosen_probs_lose: 0.375 },
    ]);
    const { examples } = prepareExamples(rows, { file: 'ids_sppo.parquet', tokenizer: null, vocabSize: 256000, needs: ['sppo', 'sppo_single'] });
    expect(examples[1]).toEqual({ row: 1, promptIds: [2, 7], chosenIds: [255999], rejectedIds: [5, 6, 1], truncated: false, targets: { chosenProbs: 0.5, chosenProbsWin: 0.625, chosenProbsLose: 0.375 } });
    // The same ids against a smaller vocabulary are named by row index.
    expect(() => validateRows(rows, { file: 'ids_sppo.parquet', vocabSize: 1000, hasTokenizer: false })).toThrow(/row 1: chosen\[0\] is number 255999, ≥ the vocabulary size 1000/);
  });

  it('nulls and plain INT64 columns', async () => {
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'prompt', data: ['a', null] },
        { name: 'n', data: [5n, 2n ** 40n] },
        { name: 'ids', data: [[1n, 2n], null] },
      ],
      schema: [
        { name: 'root', num_children: 3 },
        { name: 'prompt', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'n', type: 'INT64', repetition_type: 'OPTIONAL' },
        { name: 'ids', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' },
      ],
    } as Parameters<typeof parquetWriteBuffer>[0]);
    expect(await readDataset('x.parquet', new Uint8Array(buf))).toEqual([{ prompt: 'a', n: 5, ids: [1, 2] }, { prompt: null, n: 2 ** 40, ids: null }]);
    // A view into a larger buffer reads only its own bytes.
    const padded = new Uint8Array(buf.byteLength + 16);
    padded.set(new Uint8Array(buf), 8);
    expect(await readDataset('x.parquet', padded.subarray(8, 8 + buf.byteLength))).toHaveLength(2);
  });

  it('damaged or mislabelled files are refused with the file name', async () => {
    const good = readFileSync(join(root, 'e2e/fixtures/data/ids_sppo.parquet'));
    expect((await loadError('x.parquet', bytes('{"pairs": []}'))).message).toMatch(/^x.parquet: is not a Parquet file \(it does not start and end with the "PAR1" magic\)/);
    const cut = new Uint8Array(good.subarray(0, good.length - 40));
    expect((await loadError('x.parquet', cut)).message).toMatch(/^x.parquet: is not a Parquet file/);
    const broken = new Uint8Array(good);
    broken.fill(0xee, 4, good.length - 8); // keep the magic and footer length, ruin the rest
    expect((await loadError('x.parquet', broken)).message).toMatch(/^x.parquet: cannot be read as Parquet \(/);
  });
});
