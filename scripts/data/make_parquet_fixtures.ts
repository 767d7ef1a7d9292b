// Writes the small Parquet fixtures the dataset tests read (e2e/fixtures/data/*.parquet), with the
// column layouts of real Hub preference sets (spec gemma2-and-formats.md §5): message lists are Arrow
// list<struct<content: string, role: string>>, token ids list<int64>, scores float64.
//
//   node --import tsx scripts/data/make_parquet_fixtures.ts
//
// ultrafeedback_demo.parquet  the first 8 rows of public/demo/preferences/test.jsonl in the
//                             HuggingFaceH4/ultrafeedback_binarized layout: prompt (string), prompt_id,
//                             chosen / rejected = [user, assistant] message lists, score_chosen /
//                             score_rejected (float64)
// ids_sppo.parquet            token-id rows (list<int64>) with SPPO's chosen_probs, chosen_probs_win,
//                             chosen_probs_lose (float64)
// Written with hyparquet-writer (SNAPPY, the Hugging Face datasets default codec).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';

const root = join(import.meta.dirname, '..', '..');
const out = join(root, 'e2e', 'fixtures', 'data');

type Msg = { role: string; content: string };
const demo = readFileSync(join(root, 'public/demo/preferences/test.jsonl'), 'utf8').trim().split('\n').slice(0, 8)
  .map((l) => JSON.parse(l) as { prompt: Msg[]; chosen: Msg[]; rejected: Msg[] });

// Parquet's 3-level list encoding: <name> (LIST) → list (repeated) → element.
const list = (name: string, element: object[]): object[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  ...element,
];
const messages = (name: string): object[] => list(name, [
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]);
const string = (name: string): object => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
const double = (name: string): object => ({ name, type: 'DOUBLE', repetition_type: 'OPTIONAL' });
const ids = (name: string): object[] => list(name, [{ name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' }]);

function write(file: string, columnData: { name: string; data: unknown[] }[], schema: object[]): void {
  const buf = parquetWriteBuffer({ columnData, schema: [{ name: 'root', num_children: columnData.length }, ...schema] } as Parameters<typeof parquetWriteBuffer>[0]);
  writeFileSync(join(out, file), new Uint8Array(buf));
  console.log(`${file}: ${columnData[0].data.length} rows, ${buf.byteLength} bytes`);
}

const msg = (m: Msg): { content: string; role: string } => ({ content: m.content, role: m.role }); // Arrow field order
write('ultrafeedback_demo.parquet', [
  { name: 'prompt', data: demo.map((r) => r.prompt[0].content) },
  { name: 'prompt_id', data: demo.map((_, i) => `demo-${i}`) },
  { name: 'chosen', data: demo.map((r) => [...r.prompt, ...r.chosen].map(msg)) },
  { name: 'rejected', data: demo.map((r) => [...r.prompt, ...r.rejected].map(msg)) },
  { name: 'score_chosen', data: demo.map((_, i) => 8 + i / 4) },
  { name: 'score_rejected', data: demo.map((_, i) => 2 - i / 8) },
], [string('prompt'), string('prompt_id'), ...messages('chosen'), ...messages('rejected'), double('score_chosen'), double('score_rejected')]);

write('ids_sppo.parquet', [
  { name: 'prompt', data: [[2n, 106n, 1645n], [2n, 7n]] },
  { name: 'chosen', data: [[300n, 1n], [255999n]] },
  { name: 'rejected', data: [[301n], [5n, 6n, 1n]] },
  { name: 'chosen_probs', data: [0.75, 0.5] },
  { name: 'chosen_probs_win', data: [0.9, 0.625] },
  { name: 'chosen_probs_lose', data: [0.1, 0.375] },
], [...ids('prompt'), ...ids('chosen'), ...ids('rejected'), double('chosen_probs'), double('chosen_probs_win'), double('chosen_probs_lose')]);
