// `prefstudio generate`: a preview generation from a prompt.
//   prefstudio generate --model DIR --prompt TEXT [--max-new-tokens N --temperature T --top-p P --seed S]
// The prompt is rendered as one user turn with the model's chat template (plus the generation
// prompt) when its tokenizer has one, else encoded as plain text with <bos>. stdout: the generated
// text (special tokens removed); stderr: progress with tokens/s. Greedy at temperature 0 (default).
import type { Engine } from '../engine/engine.ts';
import { LoadError } from '../engine/errors.ts';
import { loadTokenizer } from '../engine/data/tokenizer.ts';
import { dimsFromConfig, type Gemma2Params } from '../engine/model/gemma2.ts';
import { DEFAULT_STOP_IDS, generate } from '../engine/model/generate.ts';
import type { OpenedCheckpoint } from '../engine/model/load.ts';
import type { TokenizerFiles } from './logps.ts';

export interface GenerateFlags {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

export async function generateCommand(e: Engine, ckpt: OpenedCheckpoint, tk: TokenizerFiles, params: Gemma2Params, flags: GenerateFlags, log: (s: string) => void): Promise<string> {
  if (!tk.tokenizerJson) {
    throw new LoadError(`${ckpt.source}`, 'has no tokenizer.json, which generate needs to turn the prompt into tokens', 'copy tokenizer.json and tokenizer_config.json from the original model folder');
  }
  const tok = loadTokenizer(tk.tokenizerJson, tk.tokenizerConfig ?? undefined);
  const promptIds = tok.chatTemplate ? tok.encode(tok.applyChatTemplate([{ role: 'user', content: flags.prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false }) : tok.encode(flags.prompt, { addSpecialTokens: true });
  // Stop on the config's eos ids and Gemma's <end_of_turn>.
  const stopIds = [...new Set([...ckpt.cfg.eosTokenIds, ...DEFAULT_STOP_IDS])];
  const t0 = performance.now();
  let last = 0;
  const r = await generate(e, dimsFromConfig(ckpt.cfg), params, promptIds, {
    maxNewTokens: flags.maxNewTokens,
    temperature: flags.temperature,
    topP: flags.topP,
    seed: flags.seed,
    stopIds,
    onStep: ({ step }) => {
      if (performance.now() - last < 250) return;
      last = performance.now();
      const secs = (last - t0) / 1000;
      log(`generating: ${step + 1}/${flags.maxNewTokens} tokens (${((100 * (step + 1)) / flags.maxNewTokens).toFixed(0)}%, ${((step + 1) / secs).toFixed(1)} tok/s)`);
    },
  });
  const tokens = r.tokens[0];
  log(`generated ${tokens.length} tokens (${r.finish[0] ?? 'length'}), prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.tokensPerSecond.toFixed(1)} tok/s`);
  return tok.decode(tokens, { skipSpecialTokens: true });
}
