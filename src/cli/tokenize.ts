// `prefstudio tokenize`: what the model's tokenizer and TRL's sequence rules make of text, a chat or
// a preference file — as JSON on stdout, so the ids can be checked against Python.
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio tokenize --model DIR (--text TEXT [--add_special_tokens true|false]
//                                   | --chat FILE [--add_generation_prompt]
//                                   | --pairs FILE [--sequence_style S] [--max_length N]
//                                     [--max_prompt_length N] [--max_completion_length N] [--truncation_mode M])
//   --text:  {"ids": [...]}  — add_special_tokens defaults to true, as in transformers (Gemma: <bos> first)
//   --chat:  {"text": "...", "ids": [...]}  — FILE holds {"messages": [{role, content}, …]}; text is the
//            rendered chat template, ids its tokens WITHOUT added special tokens (the template holds
//            <bos>), as TRL tokenizes rendered templates
//   --pairs: {"pairs": [{"prompt_ids", "chosen_ids", "rejected_ids", "truncated"}, …]} — exactly what the
//            trainer trains on: FILE (.jsonl / .json / .parquet) validated and built by
//            engine/data/examples.ts with the same sequence style and limits (absent = the style's
//            defaults). Rows that truncation drops are not listed (the trainer skips them); each is
//            named on stderr.
// DIR needs only config.json and the tokenizer files: no weights are opened.

import { EngineError, LoadError } from '../engine/errors.ts';
import { loadDataset } from '../engine/data/dataset.ts';
import { prepareExamples } from '../engine/data/examples.ts';
import { resolveSequenceOptions, SEQUENCE_STYLES, type SequenceStyle, type TruncationMode } from '../engine/data/pairs.ts';
import { ChatTemplateError, describeValue, type ChatMessage, type Tokenizer } from '../engine/data/tokenizer.ts';
import { readModelTextFiles } from '../engine/data/tokenizer_files.ts';
import { sourceFromDirectory } from '../engine/store/kv_node.ts';
import { readFileBytes } from './read_file.ts';

export interface TokenizeOptions {
  model: string;
  text?: string;
  add_special_tokens?: boolean;
  chat?: string;
  add_generation_prompt?: boolean;
  pairs?: string;
  sequence_style?: string;
  max_length?: number;
  max_prompt_length?: number;
  max_completion_length?: number;
  truncation_mode?: string;
}

export interface TokenizeIO {
  stdout(s: string): void;
  log(s: string): void;
}

/** --help text on sequence styles: the default and how to pick another (for the command table). */
export function sequenceStyleHelp(): string {
  return [
    `Sequence rules (--sequence_style): the default is "${SEQUENCE_STYLES[0].name}", ${SEQUENCE_STYLES[0].trl}. Pick another with --sequence_style NAME:`,
    ...SEQUENCE_STYLES.map((s) => `${s.name} — ${s.trl}: ${s.description}`),
  ].join('\n\n');
}

export async function tokenizeCommand(opts: TokenizeOptions, io: TokenizeIO): Promise<void> {
  const where = 'prefstudio tokenize';
  const modes = (['text', 'chat', 'pairs'] as const).filter((k) => opts[k] !== undefined);
  if (modes.length !== 1) {
    throw new EngineError(where, modes.length === 0 ? 'nothing to tokenize' : `--${modes.join(' and --')} cannot be given together`, 'give exactly one of --text TEXT, --chat FILE, --pairs FILE');
  }
  const m = await readModelTextFiles({ ...(await sourceFromDirectory(opts.model)), name: opts.model });
  const out = (value: unknown): void => io.stdout(`${JSON.stringify(value)}\n`);
  const needTokenizer = (what: string): Tokenizer => {
    if (m.tokenizer === null) throw new LoadError(opts.model, `has no tokenizer.json, which ${what} needs`, 'add tokenizer.json and tokenizer_config.json from the same model');
    return m.tokenizer;
  };

  if (opts.text !== undefined) {
    out({ ids: needTokenizer('--text').encode(opts.text, { addSpecialTokens: opts.add_special_tokens ?? true }) });
    return;
  }

  if (opts.chat !== undefined) {
    const tok = needTokenizer('--chat');
    const messages = await readChat(opts.chat);
    let text: string;
    try {
      text = tok.applyChatTemplate(messages, { addGenerationPrompt: opts.add_generation_prompt ?? false });
    } catch (e) {
      if (e instanceof ChatTemplateError) throw new LoadError(opts.chat, `cannot be rendered: the chat template raised "${e.templateMessage}"`, e.hint);
      throw e;
    }
    out({ text, ids: tok.encode(text, { addSpecialTokens: false }) });
    return;
  }

  const file = opts.pairs as string;
  const seq = resolveSequenceOptions({
    style: opts.sequence_style as SequenceStyle | undefined,
    maxLength: opts.max_length,
    maxPromptLength: opts.max_prompt_length,
    maxCompletionLength: opts.max_completion_length,
    truncationMode: opts.truncation_mode as TruncationMode | undefined,
  });
  const ds = await loadDataset(file, await readFileBytes(file));
  const { examples, dropped } = prepareExamples(ds.rows, { ...ds, ...seq, tokenizer: m.tokenizer, vocabSize: m.cfg.V });
  const limits = `max_length ${seq.maxLength ?? 'none'}${seq.style !== 'trl-1.x' ? `, max_prompt_length ${seq.maxPromptLength ?? 'none'}` : ''}`;
  io.log(`tokenize: ${examples.length} pairs from ${ds.rows.length} rows (sequence style ${seq.style}, ${limits}, ${seq.truncationMode})`);
  for (const d of dropped) io.log(`warning: ${file}: ${d.name} dropped: ${d.reason}`);
  out({ pairs: examples.map((x) => ({ prompt_ids: x.promptIds, chosen_ids: x.chosenIds, rejected_ids: x.rejectedIds, truncated: x.truncated })) });
}

/** A chat file: {"messages": [{role, content}, …]}. */
async function readChat(file: string): Promise<ChatMessage[]> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readFileBytes(file)));
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(file, `is not valid JSON (${(e as Error).message})`, 'write {"messages": [{"role": "user", "content": "…"}]}');
  }
  const messages = (json as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) {
    throw new LoadError(file, `must be a JSON object with a "messages" list, got ${describeValue(json)}`, 'write {"messages": [{"role": "user", "content": "…"}]}');
  }
  return messages.map((msg: unknown, i) => {
    const { role, content } = (msg ?? {}) as { role?: unknown; content?: unknown };
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof role !== 'string' || typeof content !== 'string') {
      throw new LoadError(file, `messages[${i}] is ${describeValue(msg)}; expected {"role": string, "content": string}`);
    }
    return { role, content };
  });
}
