// tokenizer_files: what data preparation needs from a model folder — config.json (for the
// vocabulary size) and the tokenizer files — read without opening a single safetensors file, so a
// folder with only config.json + tokenizer.json + tokenizer_config.json is enough (`prefstudio
// tokenize`, validating a dataset before any weights load).
//
// Works on any CheckpointSource (a directory in Node via store/kv_node.ts sourceFromDirectory, a
// dropped folder in the studio). Not here: the weights (model/load.ts), tokenization (tokenizer.ts).

import { LoadError } from '../errors.ts';
import { parseGemma2Config, type Gemma2Config } from '../model/config.ts';
import { readJsonFile, type CheckpointSource } from '../model/load.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';

/** The parsed tokenizer files of a model (null where absent). */
export interface TokenizerFiles {
  tokenizerJson: object | null;
  tokenizerConfig: object | null;
}

export interface ModelTextFiles extends TokenizerFiles {
  /** The folder's name, for messages. */
  source: string;
  cfg: Gemma2Config;
  /** Built from the files; null when the folder has no tokenizer.json. */
  tokenizer: Tokenizer | null;
}

/** config.json (required) and tokenizer.json / tokenizer_config.json (optional) of a model folder. */
export async function readModelTextFiles(source: CheckpointSource): Promise<ModelTextFiles> {
  const name = source.name ?? 'the model folder';
  const files = new Map(source.files.map((f) => [f.name, f]));
  const configFile = files.get('config.json');
  if (!configFile) {
    throw new LoadError(name, `has no config.json (given: ${[...files.keys()].join(', ') || 'no files'})`, 'give the model folder: config.json says the vocabulary size the token ids must fit');
  }
  const cfg = parseGemma2Config((await readJsonFile(configFile)).json, configFile.name);
  const json = async (file: string): Promise<object | null> => {
    const f = files.get(file);
    if (!f) return null;
    const v = (await readJsonFile(f)).json;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new LoadError(f.name, 'is not a JSON object', 'use the file that came with the model');
    return v;
  };
  const tk = { tokenizerJson: await json('tokenizer.json'), tokenizerConfig: await json('tokenizer_config.json') };
  return { source: name, cfg, ...tk, tokenizer: tokenizerForModel(tk, cfg.V, name) };
}

/**
 * The Tokenizer of a model's tokenizer files, or null without tokenizer.json. Refuses a tokenizer
 * whose ids reach past the model's vocabulary (vocab_size V): its files belong to another model.
 */
export function tokenizerForModel(tk: TokenizerFiles, V: number, source: string): Tokenizer | null {
  if (tk.tokenizerJson === null) return null;
  const tok = loadTokenizer(tk.tokenizerJson, tk.tokenizerConfig ?? undefined);
  if (tok.vocabSize > V) {
    throw new LoadError(`${source}/tokenizer.json`, `has token ids up to ${tok.vocabSize - 1}, but config.json vocab_size is ${V}`,
      'tokenizer.json and config.json come from different models: copy both from the same checkpoint');
  }
  return tok;
}
