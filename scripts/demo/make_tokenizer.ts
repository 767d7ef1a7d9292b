// make_tokenizer: writes a tiny Gemma-style BPE tokenizer for the demo model and the tests,
//   public/demo/tokenizer.json          (Hugging Face "fast" tokenizer format)
//   public/demo/tokenizer_config.json   (special tokens + the Gemma-2 chat template)
//
//   run:  node --import tsx scripts/demo/make_tokenizer.ts
//
// What it is: the same file layout Hugging Face's GemmaConverter writes for Gemma-2 (spec
// gemma2-and-formats.md §2) — BPE with byte_fallback, Replace " "→"▁" normalizer and no dummy
// prefix, <bos> post-processor, Replace/ByteFallback/Fuse decoder — with a vocabulary of a few
// hundred tokens learned here from a small inline English corpus (arithmetic Q&A, short sentences).
// The output is deterministic: running the script again gives byte-identical files (a test checks
// that the committed files are up to date).
//
// What it is not: a general BPE trainer, or Gemma's vocabulary. Only the special-token ids keep
// Gemma-2's meaning: pad 0, eos 1, bos 2, unk 3, mask 4, <start_of_turn> 106, <end_of_turn> 107,
// "\n" 108. The byte-fallback pieces sit at 109…364 (Gemma-2: 217…472) and <0x09> keeps its name.
//
// Id layout (total VOCAB_SIZE):
//   0…4      <pad> <eos> <bos> <unk> <mask>
//   5, 6     <2mass> [@BOS@]            (reserved, as Gemma-2)
//   7…105    <unused0> … <unused98>     (as Gemma-2, GDM SpecialTokens.CUSTOM = 7)
//   106, 107 <start_of_turn> <end_of_turn>   (special added tokens)
//   108      "\n"
//   109…364  <0x00> … <0xFF>            (byte fallback for anything not in the vocabulary)
//   365…     "▁" and printable ASCII, then one token per learned merge

import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GEMMA2_CHAT_TEMPLATE } from '../../src/engine/data/tokenizer.ts';

/** Total number of tokens (embedding rows of the demo model). */
export const VOCAB_SIZE = 512;

const SPACE = '\u2581'; // "▁", SentencePiece's visible space

/** The training text: deterministic, English, the kind of text the demo model sees. */
export function demoCorpus(): string[] {
  const lines: string[] = [];
  // Arithmetic Q&A in the forms the demo preference data uses.
  for (let a = 0; a <= 12; a++) {
    for (let b = 0; b <= 12; b += 3) {
      lines.push(`What is ${a} plus ${b}?`, `${a} plus ${b} is ${a + b}.`, `The answer is ${a + b}.`);
      if (a >= b) lines.push(`What is ${a} minus ${b}?`, `${a} minus ${b} is ${a - b}.`);
      lines.push(`What is ${a} times ${b}?`, `${a} times ${b} equals ${a * b}.`);
    }
  }
  lines.push(
    'Please answer the question.',
    'Sure, here is the answer.',
    'I think the answer is wrong.',
    'That is not correct, let me check again.',
    'The cat sat on the mat.',
    'The dog ran in the park with the ball.',
    'She reads a book every night before she sleeps.',
    'We went to the store and bought some bread and milk.',
    'It is a sunny day, so the children are playing outside.',
    'Thank you for your help!',
    'How are you doing today?',
    'Hello world, this is a small model.',
    'Can you count from one to ten?',
    'One, two, three, four, five, six, seven, eight, nine, ten.',
    'The sum of two numbers is the result of adding them.',
    'Multiply the first number by the second number.',
    'Subtract the smaller number from the larger number.',
    'A good answer is short and correct.',
    'A bad answer is long and wrong.',
    'The user asks a question and the model gives an answer.',
  );
  return lines;
}

/** BPE "words" of one line: the text after Gemma's normaliser (" " → "▁"), split before each "▁". */
function words(line: string): string[] {
  return line.replaceAll(' ', SPACE).match(new RegExp(`${SPACE}?[^${SPACE}]+|${SPACE}+`, 'gu')) ?? [];
}

/** Gemma splits digits (SentencePiece split_digits) and keeps "\n" apart: such pairs never merge. */
const NO_MERGE = /[\p{Nd}\n]/u;

/**
 * Learn merges greedily: repeatedly merge the most frequent adjacent pair (ties → the smaller pair
 * by code units), until the vocabulary is full or no pair occurs twice.
 */
function learnMerges(corpus: string[], room: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const line of corpus) for (const w of words(line)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const seqs = [...counts.entries()].map(([w, n]) => ({ syms: Array.from(w), n }));
  const merges: [string, string][] = [];
  const made = new Set<string>();
  while (merges.length < room) {
    const pairCounts = new Map<string, number>();
    for (const { syms, n } of seqs) {
      for (let i = 0; i + 1 < syms.length; i++) {
        if (NO_MERGE.test(syms[i]) || NO_MERGE.test(syms[i + 1])) continue;
        const key = `${syms[i]}\u0000${syms[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + n);
      }
    }
    let best = '';
    let bestN = 1; // a pair must occur at least twice
    for (const [key, n] of pairCounts) if (n > bestN || (n === bestN && best !== '' && key < best)) [best, bestN] = [key, n];
    if (best === '') break;
    const [left, right] = best.split('\u0000') as [string, string];
    for (const s of seqs) {
      const out: string[] = [];
      for (let i = 0; i < s.syms.length; i++) {
        if (i + 1 < s.syms.length && s.syms[i] === left && s.syms[i + 1] === right) out.push(left + right), i++;
        else out.push(s.syms[i]);
      }
      s.syms = out;
    }
    merges.push([left, right]);
    if (made.has(left + right)) throw new Error(`merge result ${left + right} learned twice`);
    made.add(left + right);
  }
  return merges;
}

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** Build both JSON objects (pure; main() writes them). */
export function buildDemoTokenizer(): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  // Fixed head of the vocabulary, in Gemma-2's id order.
  const head: [string, boolean][] = [
    ['<pad>', true], ['<eos>', true], ['<bos>', true], ['<unk>', true], ['<mask>', false],
    ['<2mass>', false], ['[@BOS@]', false],
  ];
  for (let n = 0; n <= 98; n++) head.push([`<unused${n}>`, false]);
  head.push(['<start_of_turn>', true], ['<end_of_turn>', true]);
  if (head.length !== 108) throw new Error(`layout: expected 108 control tokens, got ${head.length}`);

  const vocab = new Map<string, number>();
  const add = (piece: string): void => {
    if (vocab.has(piece)) throw new Error(`duplicate piece ${JSON.stringify(piece)}`);
    vocab.set(piece, vocab.size);
  };
  for (const [piece] of head) add(piece);
  add('\n'); // 108
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  add(SPACE);
  for (let c = 0x21; c <= 0x7e; c++) add(String.fromCharCode(c)); // printable ASCII; " " is "▁"

  const merges = learnMerges(demoCorpus(), VOCAB_SIZE - vocab.size);
  for (const [l, r] of merges) add(l + r);
  if (vocab.size !== VOCAB_SIZE) throw new Error(`the corpus gave only ${vocab.size} tokens; add text or lower VOCAB_SIZE`);

  const added: AddedToken[] = head.map(([content, special], id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }));

  // Same component layout as GemmaConverter's tokenizer.json (spec §2).
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
    pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<bos>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<bos>': { id: '<bos>', ids: [2], tokens: ['<bos>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };

  const addedTokensDecoder = Object.fromEntries(added.map((t) => [String(t.id), { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special }]));
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: ['<start_of_turn>', '<end_of_turn>'],
    bos_token: '<bos>',
    chat_template: GEMMA2_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<eos>',
    model_max_length: 8192,
    pad_token: '<pad>',
    sp_model_kwargs: {},
    spaces_between_special_tokens: false,
    tokenizer_class: 'GemmaTokenizer',
    unk_token: '<unk>',
    use_default_system_prompt: false,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** The exact text written to disk (2-space JSON + newline), shared with the up-to-date test. */
export function serialize(obj: unknown): string {
  return JSON.stringify(obj, null, 2) + '\n';
}

function main(): void {
  const outDir = fileURLToPath(new URL('../../public/demo/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const { tokenizerJson, tokenizerConfig } = buildDemoTokenizer();
  writeFileSync(resolve(outDir, 'tokenizer.json'), serialize(tokenizerJson));
  writeFileSync(resolve(outDir, 'tokenizer_config.json'), serialize(tokenizerConfig));
  const merges = (tokenizerJson.model as { merges: unknown[] }).merges.length;
  console.log(`wrote ${outDir}tokenizer.json (${VOCAB_SIZE} tokens, ${merges} merges) and tokenizer_config.json`);
}

// Run only as a script, not when a test imports buildDemoTokenizer().
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
