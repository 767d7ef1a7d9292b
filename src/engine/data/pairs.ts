// pairs: TRL's sequence rules — how a (validated) preference row becomes the token ids a DPO-family
// trainer scores: promptIds, chosenIds, rejectedIds; the model reads promptIds ‖ chosenIds and
// promptIds ‖ rejectedIds and scores only the completion tokens.
//
// What it is: TRL's prompt extraction, chat-template rendering, tokenization, BOS/EOS and
// truncation, for three TRL generations (SequenceStyle), each rule citing where it comes from.
// What it is not: row validation (examples.ts is the one place for that: it hands this file only
// well-formed RowContent), a dataset reader (dataset.ts), a batcher/padder (train/sequences.ts), or
// the loss. It runs in a page, a Web Worker and Node (no node: imports).
//
// Sources ("TRL" = huggingface/trl):
//   [extract]  trl/data_utils.py `maybe_extract_prompt` / `extract_prompt`
//   [template] trl/data_utils.py `apply_chat_template` (prompt with the generation prompt; completion
//              = render(prompt + completion)[len(rendered prompt):], checked with startswith)
//   [0.9.6]    TRL v0.9.6 `DPOTrainer.tokenize_row` (pinned by the SimPO, WPO and SPPO repos)
//   [classic]  TRL v0.12–v0.28 `DPOTrainer.tokenize_row` + `concatenated_forward`
//   [head]     TRL ≥ v0.29 `DPOTrainer._prepare_dataset` (`add_eos`, `tokenize_fn`, the filter on
//              prompt length) + its collator's keep_start truncation
// Spec: /work/shared/specs/preference-losses.md §1.3 (the three truncation behaviours) and
// /work/shared/specs/gemma2-and-formats.md §2 (Gemma chat format: a TRL Gemma completion is
// tokens(trim(C) + "<end_of_turn>\n") + [<eos>]) and §5 (row formats).

import { EngineError } from '../errors.ts';
import { ChatTemplateError, describeValue, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

// ------------------------------------------------------------------ styles and options

/** Which TRL generation's sequence rules to follow; see SEQUENCE_STYLES. */
export type SequenceStyle = 'trl-0.9' | 'trl' | 'trl-1.x';

/** Which end of a too-long sequence survives (TRL `truncation_mode`). */
export type TruncationMode = 'keep_start' | 'keep_end';

/** The authors' behaviour: SimPO, WPO and SPPO all pin TRL 0.9.6. */
export const DEFAULT_SEQUENCE_STYLE: SequenceStyle = 'trl-0.9';

/**
 * Sequence options with TRL's names in the comments. `null` = no limit; `undefined` = the style's
 * own default (SEQUENCE_STYLES[…].defaults: that TRL version's DPOConfig / DPOTrainer defaults).
 */
export interface SequenceOptions {
  style?: SequenceStyle;
  maxLength?: number | null; // max_length
  maxPromptLength?: number | null; // max_prompt_length (trl-0.9, trl)
  maxCompletionLength?: number | null; // max_completion_length (trl)
  truncationMode?: TruncationMode; // truncation_mode
}

export interface ResolvedSequenceOptions {
  style: SequenceStyle;
  maxLength: number | null;
  maxPromptLength: number | null;
  maxCompletionLength: number | null;
  truncationMode: TruncationMode;
}

export interface SequenceStyleInfo {
  name: SequenceStyle;
  /** The TRL versions whose rules it follows. */
  trl: string;
  /** One paragraph for --help. */
  description: string;
  /** That TRL version's defaults (what `undefined` options become). */
  defaults: Omit<ResolvedSequenceOptions, 'style'>;
}

/** The three styles, the default first. */
export const SEQUENCE_STYLES: readonly SequenceStyleInfo[] = [
  {
    name: 'trl-0.9',
    trl: 'TRL 0.9.6 (pinned by the SimPO, WPO and SPPO repos; the default)',
    description:
      '<bos> prepended to the prompt if missing, <eos> appended to each completion if missing; nothing is cut unless ' +
      'prompt + the longer completion exceeds max_length: then the prompt is cut to max_prompt_length (truncation_mode ' +
      'keep_end keeps its end, keep_start its start), and if still too long both completions to their first ' +
      'max_length − max_prompt_length tokens. Defaults: max_length 512, max_prompt_length 128, keep_end (TRL 0.9.6; ' +
      'the authors\' gemma-2 runs used 2048 / 1800, SPPO 1024 / 512).',
    defaults: { maxLength: 512, maxPromptLength: 128, maxCompletionLength: null, truncationMode: 'keep_end' },
  },
  {
    name: 'trl',
    trl: 'TRL 0.12–0.28 (the classic DPOTrainer)',
    description:
      '<eos> always appended to each completion, no <bos> added (a chat template supplies it); the prompt is cut to its ' +
      'last max_prompt_length tokens, each completion to its first max_completion_length, then prompt ‖ completion to its ' +
      'first max_length tokens (keep_start; classic TRL\'s keep_end cuts chosen and rejected prompts differently and is ' +
      'not offered); a prompt that alone fills max_length leaves no completion and the row is dropped. Defaults: ' +
      'max_length 1024, max_prompt_length 512, no max_completion_length.',
    defaults: { maxLength: 1024, maxPromptLength: 512, maxCompletionLength: null, truncationMode: 'keep_start' },
  },
  {
    name: 'trl-1.x',
    trl: 'TRL ≥ 0.29 (1.x)',
    description:
      'conversational rows: prompt and prompt + completion rendered with the chat template and tokenized, the completion ' +
      'is the ids after the prompt\'s (no <eos> added: the template ends the turn); text rows: <eos> appended to the text ' +
      'if missing, tokenized with special tokens (<bos>) as prompt and prompt + completion. Only max_length: prompt ‖ ' +
      'completion keeps its first max_length tokens (keep_start); rows whose prompt alone is ≥ max_length are dropped. ' +
      'Default max_length 1024.',
    defaults: { maxLength: 1024, maxPromptLength: null, maxCompletionLength: null, truncationMode: 'keep_start' },
  },
];

/** Fills a style's defaults into `undefined` options and checks that the combination exists in that TRL version. */
export function resolveSequenceOptions(o: SequenceOptions = {}): ResolvedSequenceOptions {
  const where = 'sequence options';
  const style = o.style ?? DEFAULT_SEQUENCE_STYLE;
  const info = SEQUENCE_STYLES.find((s) => s.name === style);
  if (info === undefined) {
    throw new EngineError(where, `sequence style ${describeValue(style)} is not one of ${SEQUENCE_STYLES.map((s) => `"${s.name}"`).join(', ')}`,
      `"trl-0.9" = ${SEQUENCE_STYLES[0].trl}; "trl" = TRL 0.12–0.28; "trl-1.x" = TRL ≥ 0.29`);
  }
  const r: ResolvedSequenceOptions = {
    style,
    maxLength: o.maxLength === undefined ? info.defaults.maxLength : o.maxLength,
    maxPromptLength: o.maxPromptLength === undefined ? info.defaults.maxPromptLength : o.maxPromptLength,
    maxCompletionLength: o.maxCompletionLength === undefined ? info.defaults.maxCompletionLength : o.maxCompletionLength,
    truncationMode: o.truncationMode ?? info.defaults.truncationMode,
  };
  for (const key of ['maxLength', 'maxPromptLength', 'maxCompletionLength'] as const) {
    const v = r[key];
    if (v !== null && !(Number.isInteger(v) && v >= 1)) throw new EngineError(where, `${key} must be a positive integer or null (no limit), got ${describeValue(v)}`);
  }
  if (r.truncationMode !== 'keep_start' && r.truncationMode !== 'keep_end') {
    throw new EngineError(where, `truncation_mode must be "keep_start" or "keep_end", got ${describeValue(r.truncationMode)}`);
  }
  if (style === 'trl-0.9') {
    if (r.maxCompletionLength !== null) throw new EngineError(where, 'style "trl-0.9" has no max_completion_length (TRL 0.9.6 had none for decoder-only models)', 'use style "trl" for max_completion_length');
    if (r.maxLength !== null && r.maxPromptLength === null) {
      throw new EngineError(where, 'style "trl-0.9" with a max_length needs a max_prompt_length too (TRL 0.9.6 always had one: default 128)');
    }
    if (r.maxLength !== null && r.maxPromptLength !== null && r.maxPromptLength >= r.maxLength) {
      throw new EngineError(where, `style "trl-0.9" needs max_prompt_length < max_length, got ${r.maxPromptLength} ≥ ${r.maxLength}`,
        'completions are cut to max_length − max_prompt_length tokens, which must be positive');
    }
  } else if (r.truncationMode === 'keep_end') {
    throw new EngineError(where, `truncation_mode "keep_end" is not available with style "${style}": it keeps the end of prompt ‖ completion for chosen and rejected separately, so the two would see different prompts`,
      'use keep_start (the only mode from TRL 0.29 on), or style "trl-0.9", whose keep_end cuts the shared prompt');
  }
  if (style === 'trl-1.x' && (r.maxPromptLength !== null || r.maxCompletionLength !== null)) {
    throw new EngineError(where, 'style "trl-1.x" has only max_length (TRL 0.29 removed max_prompt_length and max_completion_length)',
      'drop those limits, or use style "trl" (TRL 0.12–0.28) or "trl-0.9"');
  }
  return r;
}

// ------------------------------------------------------------------ rows and results

/**
 * A well-formed row, normalised by examples.ts: the three parts of one form, the prompt already
 * extracted where the row had none ([extract]).
 */
export type RowContent =
  | { form: 'ids'; prompt: number[]; chosen: number[]; rejected: number[] } // token ids: used as given
  | { form: 'text'; prompt: string; chosen: string; rejected: string } // TRL "standard"
  | { form: 'messages'; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] }; // TRL "conversational"

export interface PairTokens {
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
}

/** A row that is well-formed but cannot be built with this tokenizer (the chat template refused it). */
export class RowBuildError extends EngineError {
  /** The row's field the problem is in ("prompt", "chosen", "rejected"). */
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string, hint?: string) {
    super(`"${field}"`, reason, hint);
    this.field = field;
    this.reason = reason;
  }
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
 * completion `{C}<end_of_turn>\n` (P, C trimmed). Throws RowBuildError when the template refuses.
 */
export function renderConversation(tok: Tokenizer, prompt: readonly ChatMessage[], chosen: readonly ChatMessage[], rejected: readonly ChatMessage[]): { prompt: string; chosen: string; rejected: string } {
  const last = prompt[prompt.length - 1].role; // examples.ts guarantees a non-empty prompt ending in user/assistant
  const render = (field: string, messages: ChatMessage[], asPrompt: boolean): string => {
    try {
      return tok.applyChatTemplate(messages, asPrompt ? { addGenerationPrompt: last === 'user', continueFinalMessage: last === 'assistant' } : {});
    } catch (err) {
      if (err instanceof ChatTemplateError) throw new RowBuildError(field, `cannot be rendered: the chat template raised "${err.templateMessage}"`, err.hint);
      throw err;
    }
  };
  const promptText = render('prompt', [...prompt], true);
  const completion = (field: 'chosen' | 'rejected', side: readonly ChatMessage[]): string => {
    const full = render(field, [...prompt, ...side], false);
    if (!full.startsWith(promptText)) {
      throw new RowBuildError(field, 'rendered after the prompt does not start with the rendered prompt alone, so the completion cannot be cut out (TRL raises here too)',
        'the chat template changes earlier turns depending on later ones; such templates are not supported by TRL\'s DPO path');
    }
    return full.slice(promptText.length);
  };
  return { prompt: promptText, chosen: completion('chosen', chosen), rejected: completion('rejected', rejected) };
}

// ------------------------------------------------------------------ tokenization

/**
 * The ids of a row before truncation. Token-id rows are copied as given (no template, BOS or EOS,
 * in every style). Text and message rows need `tok`:
 * - 'trl-0.9' [0.9.6]: each part tokenized without special tokens (a Gemma template holds <bos>);
 *   <bos> prepended to the prompt if it does not start with it, <eos> appended to a completion if it
 *   does not end with it. Not modelled: 0.9.6 tokenized prompt + answer jointly and split the ids
 *   (build_tokenized_answer); that differs only if a token would span the prompt/completion boundary.
 * - 'trl' [classic]: each part tokenized without special tokens; <eos> appended unconditionally.
 *   A standard (string) prompt therefore gets no <bos> (TRL expects string prompts pre-formatted).
 * - 'trl-1.x' [head]: messages: ids(render(prompt + completion))[len(ids(rendered prompt)):], no
 *   <eos> added; text: the eos_token text appended to each completion if missing, then ids(prompt)
 *   and ids(prompt + completion) WITH special tokens (<bos>), the completion being the ids after
 *   the prompt's.
 */
export function tokenizeRow(content: RowContent, tok: Tokenizer | null, style: SequenceStyle): PairTokens {
  if (content.form === 'ids') return { promptIds: [...content.prompt], chosenIds: [...content.chosen], rejectedIds: [...content.rejected] };
  if (tok === null) throw new TokenizerError('tokenizeRow', `a ${content.form === 'text' ? 'text' : 'message'} row needs a tokenizer`, 'load tokenizer.json + tokenizer_config.json, or give token ids');
  const text = content.form === 'text' ? { prompt: content.prompt, chosen: content.chosen, rejected: content.rejected } : renderConversation(tok, content.prompt, content.chosen, content.rejected);
  const enc = (s: string, addSpecialTokens = false): number[] => tok.encode(s, { addSpecialTokens });

  if (style === 'trl-1.x') {
    const special = content.form === 'text'; // processing_class(text=…) adds <bos>; apply_chat_template(tokenize=True) does not
    const promptIds = enc(text.prompt, special);
    const completionIds = (completion: string): number[] => {
      let c = completion;
      if (content.form === 'text') {
        const eos = needEos(tok).text;
        if (!c.endsWith(eos)) c += eos; // add_eos works on the text
      }
      return enc(text.prompt + c, special).slice(promptIds.length);
    };
    return { promptIds, chosenIds: completionIds(text.chosen), rejectedIds: completionIds(text.rejected) };
  }

  const eos = needEos(tok).id;
  let promptIds = enc(text.prompt);
  let chosenIds = enc(text.chosen);
  let rejectedIds = enc(text.rejected);
  if (style === 'trl') {
    chosenIds.push(eos);
    rejectedIds.push(eos);
  } else {
    const bos = tok.bosId;
    if (bos !== null && promptIds[0] !== bos) promptIds = [bos, ...promptIds];
    if (chosenIds[chosenIds.length - 1] !== eos) chosenIds = [...chosenIds, eos];
    if (rejectedIds[rejectedIds.length - 1] !== eos) rejectedIds = [...rejectedIds, eos];
  }
  return { promptIds, chosenIds, rejectedIds };
}

function needEos(tok: Tokenizer): { id: number; text: string } {
  if (tok.eosId === null || tok.specialTokens.eos === null) {
    throw new TokenizerError('tokenizeRow', 'the tokenizer has no eos_token, which TRL appends to every completion',
      'load the tokenizer together with its tokenizer_config.json (it names eos_token)');
  }
  return { id: tok.eosId, text: tok.specialTokens.eos };
}

// ------------------------------------------------------------------ truncation

/**
 * Cut a pair by the style's rules (resolveSequenceOptions checked the combination):
 * - 'trl-0.9' [0.9.6]: only if |prompt| + max(|chosen|, |rejected|) > maxLength: prompt → its last
 *   (keep_end) or first (keep_start) maxPromptLength tokens; if still too long, both completions →
 *   their first maxLength − maxPromptLength tokens. maxLength null: nothing is cut.
 * - 'trl' [classic]: prompt → its last maxPromptLength tokens; each completion → its first
 *   maxCompletionLength; then prompt ‖ completion → its first maxLength tokens (keep_start). A prompt
 *   of ≥ maxLength tokens leaves no completion: dropped (classic TRL kept it with an all-zero loss
 *   mask, contributing nothing but padding).
 * - 'trl-1.x' [head]: prompt ‖ completion → its first maxLength tokens; a prompt of ≥ maxLength
 *   tokens is dropped.
 * Returns the cut ids, or the reason the pair was dropped.
 */
export function truncatePair(ids: PairTokens, o: ResolvedSequenceOptions): (PairTokens & { truncated: boolean }) | { dropReason: string } {
  let { promptIds: prompt, chosenIds: chosen, rejectedIds: rejected } = ids;
  const before = prompt.length + chosen.length + rejected.length;
  const L = o.maxLength;
  if (o.style === 'trl-0.9') {
    if (L !== null) {
      const P = o.maxPromptLength as number; // resolveSequenceOptions: set whenever maxLength is
      const longer = Math.max(chosen.length, rejected.length);
      if (prompt.length + longer > L) prompt = o.truncationMode === 'keep_end' ? prompt.slice(Math.max(0, prompt.length - P)) : prompt.slice(0, P);
      if (prompt.length + longer > L) {
        chosen = chosen.slice(0, L - P);
        rejected = rejected.slice(0, L - P);
      }
    }
  } else {
    if (o.maxPromptLength !== null && prompt.length > o.maxPromptLength) prompt = prompt.slice(prompt.length - o.maxPromptLength);
    if (o.maxCompletionLength !== null) {
      chosen = chosen.slice(0, o.maxCompletionLength);
      rejected = rejected.slice(0, o.maxCompletionLength);
    }
    if (L !== null) {
      if (prompt.length >= L) {
        return { dropReason: `the prompt is ${prompt.length} tokens${o.maxPromptLength !== null ? ' after max_prompt_length' : ''}, ≥ max_length ${L}, leaving no room for a completion` };
      }
      chosen = chosen.slice(0, L - prompt.length);
      rejected = rejected.slice(0, L - prompt.length);
    }
  }
  const truncated = prompt.length + chosen.length + rejected.length !== before;
  return { promptIds: prompt, chosenIds: chosen, rejectedIds: rejected, truncated };
}
