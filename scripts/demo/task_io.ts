// task_io: the Node side of scripts/demo/train_demo.py — tokenizes the demo task with the project's
// own tokenizer and TRL pair builder (src/engine/data), so Python trains on exactly the ids the
// studio will see, and decodes ids Python generated.
//
//   node --import tsx scripts/demo/task_io.ts dump OUT.json    every task item, tokenized (below)
//   node --import tsx scripts/demo/task_io.ts decode           stdin: [[ids], …] → stdout: ["text", …]
//
// dump writes {"vocab_size", "bos_id", "eos_id", "pad_id", "end_of_turn_id", "items": [{id, family,
// question, good, bad, prompt_ids, good_ids, bad_ids}]} where, for the conversational row
// {prompt: [user question], chosen: [assistant good], rejected: [assistant bad]}, prompt_ids is
// `<bos><start_of_turn>user\n{question}<end_of_turn>\n<start_of_turn>model\n` and good_ids / bad_ids
// are tokens(answer + "<end_of_turn>\n") + [<eos>] — TRL's DPO tokenization (pairs.ts, spec §2).
// Tokenizer: public/demo/tokenizer.json + tokenizer_config.json.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prepareExamples } from '../../src/engine/data/examples.ts';
import { loadTokenizer, type Tokenizer } from '../../src/engine/data/tokenizer.ts';
import { demoTask } from './task.ts';

function demoTokenizer(): Tokenizer {
  const read = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../public/demo/${name}`, import.meta.url)), 'utf8')) as object;
  return loadTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
}

function dump(outPath: string): void {
  const tok = demoTokenizer();
  const items = demoTask().map((it) => {
    const row = { prompt: [{ role: 'user', content: it.question }], chosen: [{ role: 'assistant', content: it.good }], rejected: [{ role: 'assistant', content: it.bad }] };
    const [p] = prepareExamples([row], { file: `demo task item ${it.id}`, tokenizer: tok, vocabSize: tok.vocabSize, maxLength: null, maxPromptLength: null }).examples;
    return { ...it, prompt_ids: p.promptIds, good_ids: p.chosenIds, bad_ids: p.rejectedIds };
  });
  const out = {
    vocab_size: tok.vocabSize, bos_id: tok.bosId, eos_id: tok.eosId, pad_id: tok.padId,
    end_of_turn_id: tok.tokenToId('<end_of_turn>'), items,
  };
  writeFileSync(outPath, JSON.stringify(out) + '\n');
  const lens = items.map((it) => it.prompt_ids.length + Math.max(it.good_ids.length, it.bad_ids.length));
  console.log(`task_io: ${items.length} items, vocab ${tok.vocabSize}, sequence length ${Math.min(...lens)}…${Math.max(...lens)} tokens -> ${outPath}`);
}

function decode(): void {
  const tok = demoTokenizer();
  const lists = JSON.parse(readFileSync(0, 'utf8')) as number[][];
  process.stdout.write(JSON.stringify(lists.map((ids) => tok.decode(ids))) + '\n');
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'dump' && arg !== undefined) dump(arg);
else if (mode === 'decode') decode();
else {
  console.error('usage: node --import tsx scripts/demo/task_io.ts dump OUT.json | decode  (ids lists on stdin)');
  process.exit(2);
}
