// tokenPieces (pair_tokens.ts): the text of each token of an answer, for the studio's token spans.
// The pieces must join to exactly what tokenizer.decode gives for the whole answer, with a
// multi-byte character that byte fallback spells over several tokens shown once, on its last byte.
// Checked on the demo model's tokenizer and on a real Gemma tokenizer (Gemma-3's, the one we can
// install: same decoder as Gemma-2, spec §2). The GPU side of pair_tokens.ts is checked in
// e2e/gpu/cases/pair_tokens.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../data/tokenizer.ts';
import { logWeight, summedLogp, tokenPieces, wpoPairWeight, type TokenRow } from './pair_tokens.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const demo = (): Tokenizer => loadTokenizer(readJson(join(root, 'public/demo/model/tokenizer.json')), readJson(join(root, 'public/demo/model/tokenizer_config.json')));
const gemma3 = (): Tokenizer => {
  const dir = join(root, 'node_modules', '@lenml', 'tokenizer-gemma3', 'models');
  return loadTokenizer(readJson(join(dir, 'tokenizer.json')), readJson(join(dir, 'tokenizer_config.json')));
};

const TEXTS = ['3 times 7 is 21.<end_of_turn>\n', 'I think it is 22.', ' Café — naïve 日本語 👍🏽 done', 'ünïcödé at the end: é'];

describe('tokenPieces', () => {
  for (const [name, make] of [['demo', demo], ['gemma-3', gemma3]] as const) {
    it(`${name}: the pieces join to decode(ids), one per token`, () => {
      const tok = make();
      for (const text of TEXTS) {
        const ids = tok.encode(text, { addSpecialTokens: false });
        const pieces = tokenPieces(tok, ids);
        expect(pieces.length, text).toBe(ids.length);
        expect(pieces.join(''), text).toBe(tok.decode(ids));
      }
    });
  }

  it('demo: a character spelled in bytes appears once, on its last byte; earlier bytes show nothing', () => {
    const tok = demo();
    const ids = tok.encode('日', { addSpecialTokens: false });
    const bytes = ids.map((id) => tok.idToToken(id));
    expect(bytes, 'the demo vocabulary spells 日 in byte-fallback pieces').toEqual(['<0xE6>', '<0x97>', '<0xA5>']);
    expect(tokenPieces(tok, ids)).toEqual(['', '', '日']);
  });

  it('an unfinished character at the end or before a word shows the replacement mark, as decode does', () => {
    const tok = demo();
    const [first] = tok.encode('日', { addSpecialTokens: false });
    const word = tok.encode('is', { addSpecialTokens: false });
    for (const ids of [[first], [first, ...word]]) {
      const pieces = tokenPieces(tok, ids);
      expect(pieces.join('')).toBe(tok.decode(ids));
      expect(pieces[0]).toBe('\uFFFD');
    }
  });
});

describe('sums of token rows', () => {
  const row = (logp: number, wpo: number, weight = 1): TokenRow => ({ id: 5, text: 'x', logp, refLogp: null, wpo, weight });
  it('S = Σ weight·logp; log w = mean WPO term; the pair weight e^{m_w + m_l}, clamped at 1 or not', () => {
    const chosen = [row(-1, -0.5), row(-2, -0.25, 0.5)];
    const rejected = [row(-3, 0.75)];
    expect(summedLogp(chosen)).toBe(-2);
    expect(logWeight(chosen)).toBe(-0.375);
    expect(logWeight([])).toBe(0);
    const w = wpoPairWeight(chosen, rejected, true);
    expect(w.raw).toBeCloseTo(Math.exp(0.375), 12);
    expect(w.weight).toBe(1);
    expect(wpoPairWeight(chosen, rejected, false).weight).toBeCloseTo(Math.exp(0.375), 12);
  });
});
