// pairs: turn preference rows into the token sequences a DPO-family trainer scores, the way TRL's
// DPOTrainer builds them: { promptIds, chosenIds, rejectedIds } per row, the model then reading
// promptIds ‖ chosenIds and promptIds ‖ rejectedIds and scoring only the completion tokens.
//
// What it is: row validation (errors name the row index and the key), TRL's prompt extraction,
// chat-template rendering, tokenization, EOS and truncation — each rule cites where it comes from.
// What it is not: a dataset reader (Parquet/JSONL parsing happens before), a batcher/padder, or the
// loss. It runs in a page, a Web Worker and Node (no node: imports).
//
// Sources ("TRL" = huggingface/trl; "classic" = v0.12–v0.28, the DPOTrainer with max_prompt_length):
//   [extract]  trl/data_utils.py `maybe_extract_prompt` / `extract_prompt`
//   [template] trl/data_utils.py `apply_chat_template` (prompt with the generation prompt; completion
//              = render(prompt + completion)[len(rendered prompt):], checked with startswith)
//   [row]      trl/trainer/dpo_trainer.py (classic) `_prepare_dataset` → `tokenize_row` with
//              add_special_tokens=False for decoder-only models: every part tokenized without special
//              tokens, eos_token_id appended to chosen and rejected, prompt cut to its LAST
//              max_prompt_length tokens, completions to their FIRST max_completion_length tokens
//   [forward]  same file, `concatenated_forward`: prompt ‖ completion cut to max_length;
//              truncation_mode "keep_start" keeps the first max_length tokens (the default and only
//              mode from TRL 0.29 on, which also drops rows whose prompt alone is ≥ max_length)
//   [0.9.6]    TRL v0.9.6 `tokenize_row` (pinned by the SimPO and WPO repos), as summarised in
//              /work/shared/specs/preference-losses.md §1.3 — see PairStyle
// Spec: /work/shared/specs/gemma2-and-formats.md §2 (chat format, "TRL-equivalent Gemma completion
// is tokens(trim(C) + "<end_of_turn>\n") + [1]") and §5 (dataset row formats).

import { EngineError } from '../errors.ts';
import { ChatTemplateError, describeValue, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

/** A row that cannot be turned into a pair. The message names the row index and the key. */
export class PairFormatError extends EngineError {
  readonly rowIndex: number;
  readonly key: string;
  constructor(rowIndex: number, key: string, message: string, hint?: string) {
    super(`preference row ${rowIndex}`, `"${key}" ${message}`, hint);
    this.rowIndex = rowIndex;
    this.key = key;
  }
}

/**
 * The row shapes accepted (spec §5, TRL docs/source/dataset_formats.md). Rows arrive as `unknown`
 * (parsed JSON / Parquet) and are validated; these types document what passes.
 */
export type PreferenceRow =
  | { prompt: string; chosen: string; rejected: string } // standard
  | { chosen: string; rejected: string } // standard, implicit prompt (common leading text)
  | { prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] } // conversational
  | { chosen: ChatMessage[]; rejected: ChatMessage[] } // conversational, implicit prompt
  | { prompt: string; chosen: ChatMessage[]; rejected: ChatMessage[] } // ultrafeedback_binarized & co: string prompt ignored
  | { prompt: number[]; chosen: number[]; rejected: number[] }; // raw token ids, used as given

/**
 * Which TRL generation's sequence rules to follow.
 * - 'trl' (default): classic TRL [row] + [forward] with keep_start — see truncate().
 * - 'trl-0.9': TRL v0.9.6 [0.9.6], what the SimPO / WPO authors' repos (and the published
 *   gemma-2-9b-it-WPO-HB run, max_length 2048 / max_prompt_length 1800) used: `<bos>` is prepended
 *   to the prompt if it does not start with it, `<eos>` appended to a completion only if it does not
 *   already end with it, and truncation happens only when prompt + the LONGER completion exceeds
 *   maxLength: first the prompt is cut to its last maxPromptLength tokens, then (if still too long)
 *   both completions to their first maxLength − maxPromptLength tokens. Not modelled: 0.9.6
 *   tokenized prompt+answer jointly and split the ids (build_tokenized_answer); that differs from
 *   separate tokenization only if a token would span the prompt/completion boundary.
 */
export type PairStyle = 'trl' | 'trl-0.9';

export interface PairOptions {
  /** Keep only the LAST n prompt tokens (TRL classic `max_prompt_length`). Default: no limit. */
  maxPromptLength?: number | null;
  /** Keep only the FIRST n tokens of each completion (`max_completion_length`). Default: no limit. */
  maxCompletionLength?: number | null;
  /** Cap on prompt + completion per side, cutting completion tails (`max_length`). Default: no limit. */
  maxLength?: number | null;
  /** Default 'trl'. */
  style?: PairStyle;
}

/** TRL classic DPOConfig defaults (spec preference-losses.md §2.1), for callers that want them. */
export const TRL_DPO_DEFAULTS = { maxPromptLength: 512, maxCompletionLength: null, maxLength: 1024 } as const;

/** One built pair. The model input of each side is promptIds ‖ chosenIds (resp. rejectedIds). */
export interface PairIds {
  /** Index of the source row. */
  index: number;
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  /** The rendered strings that were tokenized (before truncation); absent for raw-id rows. */
  text?: { prompt: string; chosen: string; rejected: string };
  /** True if any truncation rule removed tokens. */
  truncated: boolean;
}

/** A well-formed row that truncation leaves without a completion (TRL ≥0.29 drops these too). */
export interface DroppedRow {
  index: number;
  reason: string;
}

/**
 * Build every row. Malformed rows throw PairFormatError (the first one found); rows whose prompt
 * alone fills maxLength are dropped and listed in `dropped`.
 */
export function buildPairs(rows: readonly unknown[], tokenizer: Tokenizer, options: PairOptions = {}): { pairs: PairIds[]; dropped: DroppedRow[] } {
  if (!Array.isArray(rows)) throw new EngineError('buildPairs', `rows must be an array, got ${describeValue(rows)}`);
  checkOptions(options);
  const pairs: PairIds[] = [];
  const dropped: DroppedRow[] = [];
  rows.forEach((row, i) => {
    const r = buildPair(row, i, tokenizer, options);
    if ('reason' in r) dropped.push(r);
    else pairs.push(r);
  });
  return { pairs, dropped };
}

/**
 * Build one row (see buildPairs). `index` is used in error messages and copied to the result.
 * Note (TRL classic, style 'trl'): a standard (string) row is tokenized as given, so its prompt gets
 * no `<bos>` — TRL expects string prompts to be pre-formatted; give conversational rows to get the
 * chat template (which holds `<bos>` for Gemma).
 */
export function buildPair(row: unknown, index: number, tokenizer: Tokenizer, options: PairOptions = {}): PairIds | DroppedRow {
  checkOptions(options);
  const style = options.style ?? 'trl';
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new PairFormatError(index, '(row)', `must be an object with "chosen" and "rejected" (and usually "prompt"), got ${describeValue(row)}`);
  }
  const r = row as Record<string, unknown>;

  // ---- raw token ids: used as given (no template, no EOS), only validated and truncated.
  if (isIdList(r.prompt) || isIdList(r.chosen) || isIdList(r.rejected)) {
    const ids = (key: 'prompt' | 'chosen' | 'rejected'): number[] => checkIds(index, key, r[key], tokenizer.vocabSize);
    return truncate(index, ids('prompt'), ids('chosen'), ids('rejected'), options, style, undefined);
  }

  // ---- chosen / rejected: both strings or both message lists, non-empty.
  const chosen = checkSide(index, 'chosen', r.chosen);
  const rejected = checkSide(index, 'rejected', r.rejected);
  if (typeof chosen !== typeof rejected) {
    throw new PairFormatError(index, 'rejected', `is ${kindName(rejected)} but "chosen" is ${kindName(chosen)}`,
      'chosen and rejected must have the same form: both strings, or both lists of {role, content} messages');
  }

  // ---- prompt [extract]: kept if present AND of the same kind as chosen; otherwise (absent, or a
  // string prompt beside message-list completions, the ultrafeedback_binarized layout) the prompt is
  // the longest common prefix of chosen and rejected, removed from both.
  let prompt: string | ChatMessage[];
  let chosenPart = chosen;
  let rejectedPart = rejected;
  const promptKind = r.prompt === undefined ? 'absent' : Array.isArray(r.prompt) ? 'list' : typeof r.prompt === 'string' ? 'string' : 'bad';
  if (promptKind === 'bad') {
    throw new PairFormatError(index, 'prompt', `must be a string or a list of {role, content} messages, got ${describeValue(r.prompt)}`);
  }
  const sameKind = (promptKind === 'list') === Array.isArray(chosen);
  if (promptKind !== 'absent' && sameKind) {
    prompt = typeof r.prompt === 'string' ? r.prompt : checkMessages(index, 'prompt', r.prompt);
  } else {
    const ex = typeof chosen === 'string' ? extractPromptText(chosen, rejected as string) : extractPromptMessages(chosen, rejected as ChatMessage[]);
    prompt = ex.prompt;
    chosenPart = ex.chosen;
    rejectedPart = ex.rejected;
  }
  if (prompt.length === 0) {
    throw new PairFormatError(index, 'prompt', promptKind !== 'absent' && sameKind ? 'is empty' : 'is missing and "chosen"/"rejected" have no common beginning to take it from',
      'give a non-empty "prompt", or chosen/rejected conversations that start with the same user message');
  }

  // ---- render [template] (conversational rows only; standard rows are used verbatim).
  const text = typeof prompt === 'string'
    ? { prompt, chosen: chosenPart as string, rejected: rejectedPart as string }
    : renderConversation(index, tokenizer, prompt, chosenPart as ChatMessage[], rejectedPart as ChatMessage[]);

  // ---- tokenize [row]: no special tokens anywhere (Gemma's template already holds <bos>), then EOS.
  const eos = tokenizer.eosId;
  if (eos === null) {
    throw new TokenizerError('buildPair', 'the tokenizer has no eos_token, which TRL appends to every completion',
      'load the tokenizer together with its tokenizer_config.json (it names eos_token)');
  }
  let promptIds = tokenizer.encode(text.prompt, { addSpecialTokens: false });
  let chosenIds = tokenizer.encode(text.chosen, { addSpecialTokens: false });
  let rejectedIds = tokenizer.encode(text.rejected, { addSpecialTokens: false });
  if (style === 'trl') {
    // [row]: eos_token_id is appended unconditionally (classic tokenize_row).
    chosenIds.push(eos);
    rejectedIds.push(eos);
  } else {
    // [0.9.6]: BOS prepended if missing, EOS appended if missing.
    const bos = tokenizer.bosId;
    if (bos !== null && promptIds[0] !== bos) promptIds = [bos, ...promptIds];
    if (chosenIds[chosenIds.length - 1] !== eos) chosenIds = [...chosenIds, eos];
    if (rejectedIds[rejectedIds.length - 1] !== eos) rejectedIds = [...rejectedIds, eos];
  }
  return truncate(index, promptIds, chosenIds, rejectedIds, options, style, text);
}

// ------------------------------------------------------------------ prompt extraction [extract]

/**
 * TRL `extract_prompt` on message lists: the prompt is chosen[:k] where k is the first position at
 * which chosen and rejected differ. TRL quirk kept on purpose: if one list is a prefix of the other
 * (or they are equal), Python's loop variable ends at min(len) − 1, so the last shared message goes to
 * the completions, not the prompt. Messages compare by role and content.
 */
export function extractPromptMessages(chosen: readonly ChatMessage[], rejected: readonly ChatMessage[]): { prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] } {
  const n = Math.min(chosen.length, rejected.length);
  let k = n - 1;
  for (let i = 0; i < n; i++) {
    if (chosen[i].role !== rejected[i].role || chosen[i].content !== rejected[i].content) {
      k = i;
      break;
    }
  }
  k = Math.max(k, 0);
  return { prompt: chosen.slice(0, k), chosen: chosen.slice(k), rejected: rejected.slice(k) };
}

/**
 * TRL `extract_prompt` on strings: the common leading text, by code point; if the character just
 * before the first difference is a space, the space goes to the completions (" blue" / " green").
 * Same prefix quirk as extractPromptMessages. (TRL's own `idx == 0` case reads chosen[-1], the last
 * character, through Python's negative index; here a first-character difference is an empty prompt.)
 */
export function extractPromptText(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } {
  const c = Array.from(chosen);
  const r = Array.from(rejected);
  const n = Math.min(c.length, r.length);
  let k = n - 1;
  for (let i = 0; i < n; i++) {
    if (c[i] !== r[i]) {
      k = i > 0 && c[i - 1] === ' ' ? i - 1 : i;
      break;
    }
  }
  k = Math.max(k, 0);
  return { prompt: c.slice(0, k).join(''), chosen: c.slice(k).join(''), rejected: r.slice(k).join('') };
}

// ------------------------------------------------------------------ rendering [template]

/**
 * TRL `apply_chat_template` for a preference row: the prompt is rendered with the generation prompt
 * if its last turn is a user turn (or left open with continue_final_message if it is an assistant
 * turn); each completion is render(prompt + completion) minus the rendered prompt, which must be its
 * prefix. Gemma: prompt `<bos><start_of_turn>user\n{P}<end_of_turn>\n<start_of_turn>model\n`,
 * completion `{C}<end_of_turn>\n` (P, C trimmed).
 */
function renderConversation(index: number, tok: Tokenizer, prompt: ChatMessage[], chosen: ChatMessage[], rejected: ChatMessage[]): { prompt: string; chosen: string; rejected: string } {
  const last = prompt[prompt.length - 1].role;
  if (last !== 'user' && last !== 'assistant') {
    throw new PairFormatError(index, 'prompt', `ends with a "${last}" message; TRL accepts only "user" (a new assistant turn follows) or "assistant" (the completion continues it)`);
  }
  const render = (key: string, messages: ChatMessage[], asPrompt: boolean): string => {
    try {
      return tok.applyChatTemplate(messages, asPrompt ? { addGenerationPrompt: last === 'user', continueFinalMessage: last === 'assistant' } : {});
    } catch (err) {
      if (err instanceof ChatTemplateError) {
        throw new PairFormatError(index, key, `cannot be rendered: the chat template raised "${err.templateMessage}"`, err.hint);
      }
      throw err;
    }
  };
  const promptText = render('prompt', prompt, true);
  const completion = (key: 'chosen' | 'rejected', side: ChatMessage[]): string => {
    const full = render(key, [...prompt, ...side], false);
    if (!full.startsWith(promptText)) {
      throw new PairFormatError(index, key, 'rendered after the prompt does not start with the rendered prompt alone, so the completion cannot be cut out (TRL raises here too)',
        'the chat template changes earlier turns depending on later ones; such templates are not supported by TRL\'s DPO path');
    }
    return full.slice(promptText.length);
  };
  return { prompt: promptText, chosen: completion('chosen', chosen), rejected: completion('rejected', rejected) };
}

// ------------------------------------------------------------------ truncation

/**
 * 'trl' (classic [row] then [forward] keep_start; every step only when its limit is set):
 *   1. prompt    → its last maxPromptLength tokens (keeps the question's end and the turn header)
 *   2. each completion → its first maxCompletionLength tokens (may cut the appended EOS)
 *   3. prompt ‖ completion → its first maxLength tokens, i.e. each completion → its first
 *      maxLength − |prompt| tokens; a prompt of ≥ maxLength tokens leaves no completion → row dropped
 *      (TRL ≥0.29 drops it; classic TRL kept it with an all-zero loss mask, contributing nothing).
 *   Classic TRL's other mode, keep_end (its default), cuts the START of each prompt ‖ completion
 *   sequence separately, so chosen and rejected would see different prompts; that cannot be expressed
 *   with one shared promptIds, TRL-HEAD deprecates it, and it is not offered.
 * 'trl-0.9': see PairStyle.
 */
function truncate(index: number, prompt: number[], chosen: number[], rejected: number[], o: PairOptions, style: PairStyle, text: PairIds['text']): PairIds | DroppedRow {
  const before = prompt.length + chosen.length + rejected.length;
  const maxLength = o.maxLength ?? null;
  const maxPrompt = o.maxPromptLength ?? null;
  if (style === 'trl') {
    if (maxPrompt !== null && prompt.length > maxPrompt) prompt = prompt.slice(prompt.length - maxPrompt);
    const maxCompletion = o.maxCompletionLength ?? null;
    if (maxCompletion !== null) {
      chosen = chosen.slice(0, maxCompletion);
      rejected = rejected.slice(0, maxCompletion);
    }
    if (maxLength !== null) {
      if (prompt.length >= maxLength) {
        return { index, reason: `the prompt is ${prompt.length} tokens, ≥ maxLength ${maxLength}, leaving no room for a completion` };
      }
      chosen = chosen.slice(0, maxLength - prompt.length);
      rejected = rejected.slice(0, maxLength - prompt.length);
    }
  } else {
    // checkOptions guarantees both limits are set for 'trl-0.9'.
    const L = maxLength as number;
    const P = maxPrompt as number;
    const longer = Math.max(chosen.length, rejected.length);
    if (prompt.length + longer > L) prompt = prompt.slice(Math.max(0, prompt.length - P)); // keep_end
    if (prompt.length + longer > L) {
      chosen = chosen.slice(0, L - P);
      rejected = rejected.slice(0, L - P);
    }
  }
  const truncated = prompt.length + chosen.length + rejected.length !== before;
  return text === undefined ? { index, promptIds: prompt, chosenIds: chosen, rejectedIds: rejected, truncated } : { index, promptIds: prompt, chosenIds: chosen, rejectedIds: rejected, text, truncated };
}

// ------------------------------------------------------------------ validation

function checkOptions(o: PairOptions): void {
  const where = 'buildPairs options';
  for (const key of ['maxPromptLength', 'maxCompletionLength', 'maxLength'] as const) {
    const v = o[key];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 1)) {
      throw new EngineError(where, `${key} must be a positive integer or null (no limit), got ${describeValue(v)}`);
    }
  }
  const style = o.style ?? 'trl';
  if (style !== 'trl' && style !== 'trl-0.9') throw new EngineError(where, `style must be "trl" or "trl-0.9", got ${describeValue(style)}`);
  if (style === 'trl-0.9') {
    if (o.maxLength == null || o.maxPromptLength == null) {
      throw new EngineError(where, 'style "trl-0.9" needs both maxLength and maxPromptLength (TRL 0.9.6 always had them: defaults 512 and 128)');
    }
    if (o.maxPromptLength >= o.maxLength) {
      throw new EngineError(where, `style "trl-0.9" needs maxPromptLength < maxLength, got ${o.maxPromptLength} ≥ ${o.maxLength}`,
        'completions are cut to maxLength − maxPromptLength tokens, which must be positive');
    }
    if (o.maxCompletionLength != null) throw new EngineError(where, 'style "trl-0.9" has no maxCompletionLength (TRL 0.9.6 had none for decoder-only models)');
  }
}

const MESSAGES_EXPECTED = 'a non-empty string or a non-empty list of {role, content} messages';

/** chosen / rejected: a non-empty string or a non-empty, valid message list. */
function checkSide(index: number, key: 'chosen' | 'rejected', v: unknown): string | ChatMessage[] {
  if (v === undefined) throw new PairFormatError(index, key, `is missing; expected ${MESSAGES_EXPECTED}`);
  if (typeof v === 'string') {
    if (v.length === 0) throw new PairFormatError(index, key, `is an empty string; expected ${MESSAGES_EXPECTED}`);
    return v;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) throw new PairFormatError(index, key, `is an empty list; expected ${MESSAGES_EXPECTED}`);
    return checkMessages(index, key, v);
  }
  throw new PairFormatError(index, key, `is ${describeValue(v)}; expected ${MESSAGES_EXPECTED}`);
}

/** A list of {role: string, content: string}; returns plain copies. */
function checkMessages(index: number, key: string, v: unknown): ChatMessage[] {
  if (!Array.isArray(v)) throw new PairFormatError(index, key, `must be a list of {role, content} messages, got ${describeValue(v)}`);
  return v.map((m: unknown, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      throw new PairFormatError(index, `${key}[${i}]`, `must be a message object {role, content}, got ${describeValue(m)}`);
    }
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') throw new PairFormatError(index, `${key}[${i}].role`, `must be a string ("user" or "assistant"), got ${describeValue(role)}`);
    if (typeof content !== 'string') throw new PairFormatError(index, `${key}[${i}].content`, `must be a string, got ${describeValue(content)}`);
    return { role, content };
  });
}

/** True for a non-empty array whose first element is a number: the raw-ids form. */
function isIdList(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && typeof v[0] === 'number';
}

/** Raw ids: a non-empty array of integers in [0, vocabSize). */
function checkIds(index: number, key: string, v: unknown, vocabSize: number): number[] {
  const expected = `a non-empty list of token ids (integers in [0, ${vocabSize}))`;
  if (!Array.isArray(v)) {
    throw new PairFormatError(index, key, `is ${describeValue(v)}, but another key of this row holds token ids; expected ${expected}`,
      'a raw-ids row gives prompt, chosen and rejected all as token-id lists');
  }
  if (v.length === 0) throw new PairFormatError(index, key, `is an empty list; expected ${expected}`);
  v.forEach((id: unknown, i) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new PairFormatError(index, `${key}[${i}]`, `is ${describeValue(id)}; expected a token id, an integer in [0, ${vocabSize})`,
        'the ids must come from the same tokenizer as the model (its vocabSize)');
    }
  });
  return [...(v as number[])];
}

function kindName(v: string | ChatMessage[]): string {
  return typeof v === 'string' ? 'a string' : 'a message list';
}
