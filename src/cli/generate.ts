// `prefstudio generate`: a preview generation from a prompt (chat template applied when the model
// folder has a tokenizer with one). Filled in with the KV-cache decoder (src/engine/model/generate.ts).
import type { Engine } from '../engine/engine.ts';
import { EngineError } from '../engine/errors.ts';
import type { Gemma2Params } from '../engine/model/gemma2.ts';
import type { OpenedCheckpoint } from '../engine/model/load.ts';

export interface GenerateFlags {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

export async function generateCommand(_e: Engine, _ckpt: OpenedCheckpoint, _params: Gemma2Params, _flags: GenerateFlags, _log: (s: string) => void): Promise<string> {
  throw new EngineError('generate', 'not available yet in this build');
}
