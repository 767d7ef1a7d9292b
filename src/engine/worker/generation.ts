// The worker's preview generation (protocol.ts: generate, cancelGenerate): one prompt answered by
// the base model and, given a run, by the trained one, token by token — what `prefstudio generate`
// does (src/cli/generate.ts), with events instead of a terminal:
//
//   prompt     one user turn through the stored model's chat template (+ the generation prompt);
//              without a template, the text with <bos>
//   base       the stored model `modelId`, loaded from the weight store as the CLI loads a frozen
//              model (FROZEN_16BIT: 16-bit matrices stay 16-bit) and kept for the next prompt until
//              another model is asked for; for a LoRA run on that model, its own frozen base with
//              the adapter off (nothing loaded)
//   trained    the weights of a finished or stopped run the worker still holds (training.ts
//              getRunModel; a LoRA run with its adapter), or (adapterId) the base with a PEFT adapter
//              stored under it (store/adapters.ts openStoredAdapter → peft.ts uploadAdapter, f32
//              factors on the frozen base, as `prefstudio generate --adapter DIR`), freed after the answer
//   sampling   model/generate.ts: greedy at temperature 0, else softmax(z/T) within top_p, drawn
//              with the seeded Rng; both answers use the same seed, so they differ by the weights only
//
// The answers run one after the other (base first) on the worker's Engine; each new token is a
// generateToken event carrying the text so far, each answer ends with generateDone.

import { tokenizerForModel } from '../data/tokenizer_files.ts';
import { EngineError, LoadError } from '../errors.ts';
import { parseGemma2Config } from '../model/config.ts';
import type { Gemma2Dims, Gemma2Params } from '../model/gemma2.ts';
import { DEFAULT_STOP_IDS, generate } from '../model/generate.ts';
import { FROZEN_16BIT, loadGemma2, type LoadedGemma2 } from '../model/load.ts';
import { disposeAdapter, withAdapterOff } from '../model/lora.ts';
import { uploadAdapter } from '../model/peft.ts';
import { openStoredAdapter } from '../store/adapters.ts';
import { storedTokenizerFiles, storedWeights } from '../store/load.ts';
import { getManifest } from '../store/manifest.ts';
import type { Reply } from './models.ts';
import type { GenerateCommand } from './protocol.ts';
import { getRunModel, type RunDeps } from './training.ts';

/** The base model loaded for generation (one at a time). */
let base: { modelId: string; model: LoadedGemma2 } | null = null;
/** The running generation (one at a time), for cancelGenerate. */
let running: { stop: boolean } | null = null;

class GenerationStopped extends Error {
  override name = 'GenerationStopped';
}

/** Answers generateStarted, then per answer generateToken… and generateDone. */
export async function generateAnswers(cmd: GenerateCommand, reply: Reply, deps: RunDeps): Promise<void> {
  if (running) throw new EngineError('generate', 'a generation is still running', 'wait for it to finish, or stop it first');
  const state = { stop: false };
  running = state;
  try {
    const kv = deps.store();
    const manifest = await getManifest(kv, cmd.modelId);
    if (!manifest) throw new LoadError(`model '${cmd.modelId}'`, `is not in the ${kv.label}`, 'pick a stored model (listModels), or import it first');
    const label = `stored model '${manifest.name}'`;
    const cfg = parseGemma2Config(manifest.config, `${label}: config.json`);
    const tok = tokenizerForModel(await storedTokenizerFiles(kv, manifest), cfg.V, label);
    if (!tok) throw new LoadError(label, 'has no tokenizer.json, which generation needs to turn the prompt into tokens', 'import the model again with tokenizer.json and tokenizer_config.json from its folder');
    const trained = cmd.runId === undefined ? null : getRunModel(cmd.runId);
    if (cmd.runId !== undefined && !trained) {
      throw new EngineError('generate', `run ${cmd.runId} has no weights in the worker (it is still running, or they were freed when another run started or the page reloaded)`, 'wait for the run to finish or stop it; a run trained before a reload can only be exported from its checkpoint by resuming it');
    }
    if (trained && trained.modelId !== cmd.modelId) throw new EngineError('generate', `run ${cmd.runId} trained model '${trained.modelId}', not '${cmd.modelId}'`, "choose the run's own base model");
    if (cmd.runId !== undefined && cmd.adapterId !== undefined) throw new EngineError('generate', `both a run (${cmd.runId}) and a stored adapter (${cmd.adapterId}) were given for the trained answer`, 'choose one of them');
    // a stored adapter: read back and checked against the base before any weights load
    const stored = cmd.adapterId === undefined ? null : await openStoredAdapter(kv, cmd.modelId, cmd.adapterId);

    const promptIds = tok.chatTemplate ? tok.encode(tok.applyChatTemplate([{ role: 'user', content: cmd.prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false }) : tok.encode(cmd.prompt, { addSpecialTokens: true });
    const stopIds = [...new Set([...cfg.eosTokenIds, ...DEFAULT_STOP_IDS])];
    const sides: ('base' | 'trained')[] = trained || stored ? ['base', 'trained'] : ['base'];
    reply({ type: 'generateStarted', sides, promptTokens: promptIds.length, promptText: tok.decode(promptIds) });

    const e = await deps.engine();
    const answer = async (which: 'base' | 'trained', dims: Gemma2Dims, params: Gemma2Params): Promise<void> => {
      const tokens: number[] = [];
      const t0 = performance.now();
      let finish: 'stop' | 'length' | 'stopped' = 'length';
      try {
        const r = await generate(e, dims, params, promptIds, {
          maxNewTokens: cmd.maxNewTokens,
          temperature: cmd.temperature,
          topP: cmd.topP,
          seed: cmd.seed,
          stopIds,
          onStep: ({ step, tokens: chosen }) => {
            const token = chosen[0];
            tokens.push(token);
            reply({ type: 'generateToken', which, step, token, text: tok.decode(tokens, { skipSpecialTokens: true }) });
            if (state.stop) throw new GenerationStopped(); // generate frees its cache on the way out
          },
        });
        finish = r.finish[0];
      } catch (err) {
        if (!(err instanceof GenerationStopped)) throw err;
        finish = 'stopped';
      }
      const secs = (performance.now() - t0) / 1000;
      reply({ type: 'generateDone', which, text: tok.decode(tokens, { skipSpecialTokens: true }), tokens: tokens.length, finish, tokensPerSecond: secs > 0 ? tokens.length / secs : 0 });
    };

    if (trained?.params.adapter) {
      // a LoRA run: its frozen base with the adapter off is the base model
      await withAdapterOff(trained.params.adapter, () => answer('base', trained.dims, trained.params));
    } else {
      const m = await baseModel(deps, cmd.modelId, reply);
      await answer('base', m.dims, m.params);
    }
    if (trained && !state.stop) await answer('trained', trained.dims, trained.params);
    if (stored && !state.stop) {
      const m = await baseModel(deps, cmd.modelId, reply);
      const adapter = uploadAdapter(e, stored.adapter);
      try {
        await answer('trained', m.dims, { ...m.params, adapter });
      } finally {
        disposeAdapter(adapter);
      }
    }
  } finally {
    running = null;
    if (releaseAfterRun) {
      releaseAfterRun = false;
      releaseGenerationModel();
    }
  }
}

/** Asks the running generation to stop after its current token. */
export function cancelGenerate(): void {
  if (running) running.stop = true;
}

/**
 * Frees the base model kept for the next prompt (a training run starting needs the GPU memory).
 * A generation in progress keeps its model until it ends: it is freed then.
 */
export function releaseGenerationModel(): void {
  if (running) {
    running.stop = true;
    releaseAfterRun = true;
    return;
  }
  base?.model.dispose();
  base = null;
}
let releaseAfterRun = false;

/** The stored model's weights for generation, loaded once per model (the previous one freed). */
async function baseModel(deps: RunDeps, modelId: string, reply: Reply): Promise<LoadedGemma2> {
  if (base?.modelId === modelId) return base.model;
  base?.model.dispose();
  base = null;
  const e = await deps.engine();
  let last = -Infinity;
  const model = await loadGemma2(e, await storedWeights(deps.store(), modelId), {
    keep16: FROZEN_16BIT,
    onProgress: (p) => {
      if (p.phase !== 'upload' || (p.bytesDone < p.bytesTotal && performance.now() - last < 100)) return;
      last = performance.now();
      reply({ type: 'generateLoading', modelId, percent: p.percent });
    },
  });
  base = { modelId, model };
  return model;
}
