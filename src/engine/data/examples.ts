// examples: the ONE place that decides whether a preference row is well-formed, and that turns rows
// into PreferenceExample (token ids + training targets) by TRL's sequence rules (pairs.ts).
//
//   validateRows(rows, …)     every row form, before any weights load (needs only the vocabulary
//                             size and whether a tokenizer exists); collects EVERY malformed row —
//                             row, field and a specific reason — and throws one DatasetError
//   prepareExamples(rows, …)  validate, then render / tokenize / truncate each row → examples, plus
//                             the rows truncation dropped
//
// Row forms (TRL docs/source/dataset_formats.md; spec gemma2-and-formats.md §5):
//   standard        {"prompt": str, "chosen": str, "rejected": str}
//   implicit prompt {"chosen": str, "rejected": str}         prompt = their common beginning [extract]
//   conversational  {"prompt": [msg…], "chosen": [msg…], "rejected": [msg…]}, msg = {role, content}
//   implicit conv.  {"chosen": [msg…], "rejected": [msg…]}
//   UltraFeedback   {"prompt": str, "chosen": [msg…], "rejected": [msg…]}   the string prompt is ignored
//                   and the prompt extracted from the message lists, as TRL's maybe_extract_prompt does
//   token ids       {"prompt": [id…], "chosen": [id…], "rejected": [id…]}  used as given (no template,
//                   no BOS/EOS), truncated by the same rules; every list non-empty, ids in [0, V)
// Extra columns, read when a loss needs them (spec preference-losses.md §5, §6):
//   chosen_probs (sppo_single), chosen_probs_win + chosen_probs_lose (sppo): probabilities in [0, 1];
//   score_chosen + score_rejected (gpo): finite numbers. Other columns are ignored, as TRL does.
// An empty completion is invalid in every form (`chosen: ""`, `chosen: []`): it has no token to score.
//
// Not here: reading files (dataset.ts), TRL's templates / BOS / EOS / truncation (pairs.ts), batching.

import { LoadError } from '../errors.ts';
import { rowName, rowNumbering, type RowNaming } from './dataset.ts';
import {
  extractPromptMessages, extractPromptText, resolveSequenceOptions, RowBuildError, tokenizeRow, truncatePair,
  type RowContent, type SequenceOptions,
} from './pairs.ts';
import { describeValue, TokenizerError, type ChatMessage, type Tokenizer } from './tokenizer.ts';

/** Which extra columns a loss reads. */
export type TargetNeed = 'sppo' | 'sppo_single' | 'gpo';

/** Per-pair training targets from the extra columns (only those present and valid). */
export interface PreferenceTargets {
  chosenProbs?: number; // chosen_probs: P(y_w ≻ y_l) — sppo_single
  chosenProbsWin?: number; // chosen_probs_win: P̂(y_w ≻ π_t) — sppo
  chosenProbsLose?: number; // chosen_probs_lose: P̂(y_l ≻ π_t) — sppo
  scoreChosen?: number; // score_chosen — gpo
  scoreRejected?: number; // score_rejected — gpo
}

/** One pair as the trainer trains on it: the model reads promptIds ‖ chosenIds and promptIds ‖ rejectedIds. */
export interface PreferenceExample {
  /** Index of the source row in the rows array (0-based; messages name it with rowName). */
  row: number;
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  /** True if truncation removed any token. */
  truncated: boolean;
  targets: PreferenceTargets;
}

/** A well-formed row that truncation left without a completion (TRL ≥0.29 drops these too). */
export interface DroppedRow {
  /** 0-based index into the rows array. */
  row: number;
  /** The row as the user finds it in the file ("line 7", "pairs[3]", "row 3"). */
  name: string;
  reason: string;
}

/** A row validateRows accepted, normalised (prompt extracted, message copies), before tokenization. */
export interface ValidRow {
  row: number;
  content: RowContent;
  targets: PreferenceTargets;
}

/** One problem with one row. */
export interface RowIssue {
  /** 0-based index into the rows array. */
  row: number;
  /** The row as the user finds it in the file: "line 7", "pairs[3]", "row 3". */
  name: string;
  /** The field ("chosen", "prompt[2]", "chosen[1].role", "score_chosen"); "" for the row itself. */
  field: string;
  /** What is wrong and what was expected. */
  reason: string;
  hint?: string;
}

/** A dataset that cannot be trained on: every malformed row is listed (up to MAX_LISTED, then a count). */
export class DatasetError extends LoadError {
  readonly file: string;
  readonly issues: RowIssue[];
  constructor(file: string, message: string, issues: RowIssue[], hint?: string) {
    super(file, message, hint);
    this.file = file;
    this.issues = issues;
  }
}

export interface ValidateOptions extends RowNaming {
  /** The model's vocabulary size (config.json vocab_size): token ids must be < this. */
  vocabSize: number;
  /** Whether the model folder has tokenizer.json (text and message rows need it). */
  hasTokenizer: boolean;
  /** Extra columns the chosen loss(es) read; see targetsNeededBy. */
  needs?: TargetNeed | readonly TargetNeed[];
}

export interface PrepareOptions extends RowNaming, SequenceOptions {
  tokenizer: Tokenizer | null;
  vocabSize: number;
  needs?: TargetNeed | readonly TargetNeed[];
}

/** How many problems an error lists before it only counts the rest. */
export const MAX_LISTED = 20;

/** The extra columns a list of TRL loss types reads (loss types that read none are ignored). */
export function targetsNeededBy(lossTypes: readonly string[]): TargetNeed[] {
  return (['sppo', 'sppo_single', 'gpo'] as const).filter((t) => lossTypes.includes(t));
}

// ------------------------------------------------------------------ validation

/**
 * Checks every row; returns the normalised rows, or throws one DatasetError listing every malformed
 * row (row name, field, reason). An empty dataset is an error too.
 */
export function validateRows(rows: readonly unknown[], o: ValidateOptions): ValidRow[] {
  const { valid, issues } = inspectRows(rows, o);
  if (issues.length > 0) throw datasetError(o, issues);
  return valid;
}

/** validateRows without the throw: the accepted rows and every problem found (for a UI table). */
export function inspectRows(rows: readonly unknown[], o: ValidateOptions): { valid: ValidRow[]; issues: RowIssue[] } {
  if (!Array.isArray(rows)) throw new LoadError(o.file, `the rows must be an array, got ${describeValue(rows)}`);
  if (rows.length === 0) {
    throw new DatasetError(o.file, 'has no rows', [], 'a preference dataset needs at least one {"prompt", "chosen", "rejected"} row');
  }
  if (!(Number.isInteger(o.vocabSize) && o.vocabSize > 0)) throw new LoadError(o.file, `vocabSize must be a positive integer, got ${describeValue(o.vocabSize)}`);
  const needs = needList(o.needs);
  const valid: ValidRow[] = [];
  const issues: RowIssue[] = [];
  rows.forEach((row, i) => {
    const found: RowIssue[] = [];
    const problem = (field: string, reason: string, hint?: string): void => {
      found.push({ row: i, name: rowName(o, i), field, reason, ...(hint !== undefined ? { hint } : {}) });
    };
    const checked = checkRow(row, o, needs, problem);
    if (found.length > 0 || checked === null) issues.push(...found);
    else valid.push({ row: i, ...checked });
  });
  return { valid, issues };
}

type Problem = (field: string, reason: string, hint?: string) => void;

/** What a field holds, for deciding the row's form before checking the details. */
type Kind = 'missing' | 'null' | 'string' | 'empty-list' | 'messages' | 'ids' | 'other';

function kindOf(v: unknown): Kind {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) {
    if (v.length === 0) return 'empty-list';
    const first: unknown = v[0];
    return first !== null && typeof first === 'object' && !Array.isArray(first) ? 'messages' : 'ids';
  }
  return 'other';
}

const ROW_HINT = 'each row needs "chosen" and "rejected" (and usually "prompt"), all text, all {role, content} message lists, or all token-id lists';

function checkRow(row: unknown, o: ValidateOptions, needs: TargetNeed[], problem: Problem): Omit<ValidRow, 'row'> | null {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    problem('', `is ${describeValue(row)}; expected an object with "chosen" and "rejected" (and usually "prompt")`, ROW_HINT);
    return null;
  }
  const r = row as Record<string, unknown>;
  const kinds = { prompt: kindOf(r.prompt), chosen: kindOf(r.chosen), rejected: kindOf(r.rejected) };
  const content = Object.values(kinds).includes('ids') ? checkIdsRow(r, kinds, o.vocabSize, problem) : checkTextRow(r, kinds, problem);
  const targets = checkTargets(r, needs, problem);
  if (content === null || targets === null) return null;
  if (content.form !== 'ids' && !o.hasTokenizer) {
    problem('chosen', `holds ${content.form === 'text' ? 'text' : 'chat messages'}, but the model folder has no tokenizer.json`,
      'add tokenizer.json and tokenizer_config.json (from the same model) to the model folder, or give prompt/chosen/rejected as token ids');
    return null;
  }
  return { content, targets };
}

// ---- token-id rows

function checkIdsRow(r: Record<string, unknown>, kinds: Record<'prompt' | 'chosen' | 'rejected', Kind>, V: number, problem: Problem): RowContent | null {
  const idsField = (['prompt', 'chosen', 'rejected'] as const).find((k) => kinds[k] === 'ids');
  let ok = true;
  const get = (field: 'prompt' | 'chosen' | 'rejected'): number[] => {
    const v = r[field];
    const kind = kinds[field];
    const expected = `a non-empty list of token ids (integers in [0, ${V}))`;
    if (kind === 'ids') {
      if (!checkIdList(field, v as unknown[], V, problem)) ok = false;
      return v as number[];
    }
    ok = false;
    if (kind === 'missing') problem(field, `is missing; "${idsField}" holds token ids, so "${field}" must be ${expected}`);
    else if (kind === 'empty-list') {
      problem(field, field === 'prompt' ? `is an empty list; the first completion token needs a prompt token before it: expected ${expected}`
        : `is an empty list: an empty completion has no token to score; expected ${expected}`);
    } else if (kind === 'string' || kind === 'messages') {
      problem(field, `holds ${kind === 'string' ? 'text' : 'chat messages'} but "${idsField}" holds token ids (mixed forms)`, 'give prompt, chosen and rejected all as token ids, or all as text / messages');
    } else problem(field, `is ${describeValue(v)}; expected ${expected}`);
    return [];
  };
  const prompt = get('prompt');
  const chosen = get('chosen');
  const rejected = get('rejected');
  return ok ? { form: 'ids', prompt: [...prompt], chosen: [...chosen], rejected: [...rejected] } : null;
}

/** Reports the first bad id of a non-empty list (and how many others are bad). */
function checkIdList(field: string, ids: readonly unknown[], V: number, problem: Problem): boolean {
  let first = -1;
  let count = 0;
  ids.forEach((id, i) => {
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < V) return;
    count++;
    if (first < 0) first = i;
  });
  if (count === 0) return true;
  const id = ids[first];
  const expected = `expected a token id, an integer in [0, ${V})`;
  let what: string;
  if (Array.isArray(id)) what = `is a nested list; token ids must be a flat list of integers`;
  else if (typeof id === 'number' && Number.isFinite(id) && !Number.isInteger(id)) what = `is number ${id}, not an integer; ${expected}`;
  else if (typeof id === 'number' && id < 0) what = `is number ${id}, negative; ${expected}`;
  else if (typeof id === 'number' && id >= V) what = `is number ${id}, ≥ the vocabulary size ${V} (config.json vocab_size); ${expected}`;
  else what = `is ${describeValue(id)}; ${expected}`;
  const more = count > 1 ? ` (${count - 1} more bad id${count > 2 ? 's' : ''} in "${field}")` : '';
  problem(`${field}[${first}]`, what + more, typeof id === 'number' && Number.isInteger(id) ? 'the ids must come from the model\'s own tokenizer' : undefined);
  return false;
}

// ---- text and message rows

const SIDE_EXPECTED = 'a non-empty string or a non-empty list of {role, content} messages';

function checkTextRow(r: Record<string, unknown>, kinds: Record<'prompt' | 'chosen' | 'rejected', Kind>, problem: Problem): RowContent | null {
  const side = (field: 'chosen' | 'rejected'): string | ChatMessage[] | null => {
    const v = r[field];
    switch (kinds[field]) {
      case 'string':
        if ((v as string).length > 0) return v as string;
        problem(field, 'is an empty string: an empty completion has no token to score');
        return null;
      case 'messages':
        return checkMessages(field, v as unknown[], problem);
      case 'missing':
        problem(field, `is missing; expected ${SIDE_EXPECTED}`, ROW_HINT);
        return null;
      case 'empty-list':
        problem(field, 'is an empty list: an empty completion has no token to score');
        return null;
      default:
        problem(field, `is ${describeValue(v)}; expected ${SIDE_EXPECTED}`);
        return null;
    }
  };
  const chosen = side('chosen');
  const rejected = side('rejected');

  // The prompt [extract]: kept when present and of chosen's form; a string prompt beside message
  // lists (the UltraFeedback layout) is ignored and the prompt taken from the lists, as TRL does.
  let prompt: string | ChatMessage[] | null | undefined;
  const pk = kinds.prompt;
  if (pk === 'missing') prompt = undefined;
  else if (pk === 'string') prompt = r.prompt as string;
  else if (pk === 'messages') prompt = checkMessages('prompt', r.prompt as unknown[], problem);
  else {
    problem('prompt', pk === 'empty-list' ? 'is an empty list; expected a string or a non-empty list of {role, content} messages'
      : `is ${describeValue(r.prompt)}; expected a string or a list of {role, content} messages`);
    prompt = null;
  }
  if (chosen === null || rejected === null || prompt === null) return null;

  if (typeof chosen !== typeof rejected) {
    problem('rejected', `is ${formName(rejected)} but "chosen" is ${formName(chosen)} (mixed forms)`,
      'chosen and rejected must have the same form: both strings, or both lists of {role, content} messages');
    return null;
  }
  if (typeof chosen === 'string') {
    if (Array.isArray(prompt)) {
      problem('prompt', 'is a message list but "chosen" and "rejected" are strings (mixed forms)', 'give the prompt as text too, or chosen/rejected as [{"role": "assistant", "content": …}]');
      return null;
    }
    if (prompt !== undefined) {
      if (prompt.length === 0) {
        problem('prompt', 'is an empty string', 'give the prompt text, or leave "prompt" out to take the common beginning of chosen and rejected');
        return null;
      }
      return { form: 'text', prompt, chosen, rejected: rejected as string };
    }
    const ex = extractPromptText(chosen, rejected as string);
    if (ex.prompt.length === 0) return noCommonPrompt(problem);
    return { form: 'text', ...ex };
  }

  let msgs: { prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };
  if (Array.isArray(prompt)) msgs = { prompt, chosen, rejected: rejected as ChatMessage[] };
  else {
    msgs = extractPromptMessages(chosen, rejected as ChatMessage[]);
    if (msgs.prompt.length === 0) return noCommonPrompt(problem);
  }
  const last = msgs.prompt[msgs.prompt.length - 1].role;
  if (last !== 'user' && last !== 'assistant') {
    problem('prompt', `ends with a "${last}" message; TRL accepts only "user" (a new assistant turn follows) or "assistant" (the completion continues it)`);
    return null;
  }
  return { form: 'messages', ...msgs };
}

function noCommonPrompt(problem: Problem): null {
  problem('prompt', 'is missing and "chosen"/"rejected" have no common beginning to take it from',
    'give a non-empty "prompt", or chosen/rejected conversations that start with the same user message');
  return null;
}

/** A list of {role: string, content: string}; returns plain copies, or null after reporting the first bad message. */
function checkMessages(field: string, v: readonly unknown[], problem: Problem): ChatMessage[] | null {
  const out: ChatMessage[] = [];
  for (let i = 0; i < v.length; i++) {
    const m = v[i];
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      problem(`${field}[${i}]`, `is ${describeValue(m)}; expected a message object {role, content}`);
      return null;
    }
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') {
      problem(`${field}[${i}].role`, `is ${describeValue(role)}; expected a string ("user" or "assistant")`);
      return null;
    }
    if (typeof content !== 'string') {
      problem(`${field}[${i}].content`, `is ${describeValue(content)}; expected a string`);
      return null;
    }
    out.push({ role, content });
  }
  return out;
}

function formName(v: string | ChatMessage[]): string {
  return typeof v === 'string' ? 'a string' : 'a message list';
}

// ---- extra columns

const TARGET_COLUMNS = [
  { column: 'chosen_probs', key: 'chosenProbs', need: 'sppo_single', probability: true, what: 'P(y_w ≻ y_l), the probability that chosen beats rejected' },
  { column: 'chosen_probs_win', key: 'chosenProbsWin', need: 'sppo', probability: true, what: 'P̂(y_w ≻ π_t), the chosen answer\'s estimated win rate' },
  { column: 'chosen_probs_lose', key: 'chosenProbsLose', need: 'sppo', probability: true, what: 'P̂(y_l ≻ π_t), the rejected answer\'s estimated win rate' },
  { column: 'score_chosen', key: 'scoreChosen', need: 'gpo', probability: false, what: 'the chosen answer\'s preference score' },
  { column: 'score_rejected', key: 'scoreRejected', need: 'gpo', probability: false, what: 'the rejected answer\'s preference score' },
] as const;

/** Needed columns must be valid; other recognised columns are kept when they are finite numbers. */
function checkTargets(r: Record<string, unknown>, needs: TargetNeed[], problem: Problem): PreferenceTargets | null {
  const targets: PreferenceTargets = {};
  let ok = true;
  for (const t of TARGET_COLUMNS) {
    const v = r[t.column];
    const needed = needs.includes(t.need);
    const finite = typeof v === 'number' && Number.isFinite(v);
    if (!needed) {
      if (finite) targets[t.key] = v;
      continue;
    }
    const hint = `loss_type ${t.need} reads "${t.column}" (${t.what}) from every row${t.need === 'gpo' ? '' : '; a set without win rates can train with hard labels: --loss_type sppo_hard'}`;
    if (v === undefined) problem(t.column, `is missing; loss_type ${t.need} needs it`, hint);
    else if (!finite) problem(t.column, `is ${describeValue(v)}; expected a finite number${t.probability ? ' in [0, 1]' : ''}`, hint);
    else if (t.probability && (v < 0 || v > 1)) problem(t.column, `is ${v}, outside [0, 1]; it is a probability`, hint);
    else {
      targets[t.key] = v;
      continue;
    }
    ok = false;
  }
  return ok ? targets : null;
}

function needList(needs: ValidateOptions['needs']): TargetNeed[] {
  const list: readonly unknown[] = needs === undefined ? [] : typeof needs === 'string' ? [needs] : needs;
  for (const n of list) {
    if (n !== 'sppo' && n !== 'sppo_single' && n !== 'gpo') throw new LoadError('validateRows', `needs must be "sppo", "sppo_single" or "gpo", got ${describeValue(n)}`);
  }
  return list as TargetNeed[];
}

// ------------------------------------------------------------------ building examples

/**
 * Validates the rows (throws DatasetError listing every malformed row), then builds each pair by the
 * sequence style's rules (pairs.ts; undefined limits = the style's defaults, null = no limit).
 * Rows whose chat template refuses them or whose ids fall outside the vocabulary are errors too;
 * rows that truncation leaves without a completion are returned in `dropped`. Throws if no row
 * survives (every prompt exceeds max_length).
 */
export function prepareExamples(rows: readonly unknown[], o: PrepareOptions): { examples: PreferenceExample[]; dropped: DroppedRow[] } {
  const seq = resolveSequenceOptions(o);
  const tok = o.tokenizer;
  const valid = validateRows(rows, { file: o.file, lines: o.lines, key: o.key, vocabSize: o.vocabSize, hasTokenizer: tok !== null, needs: o.needs });
  if (tok !== null && tok.chatTemplate === null && valid.some((v) => v.content.form === 'messages')) {
    throw new TokenizerError(o.file, 'has chat-message rows, but tokenizer_config.json has no chat_template to render them',
      'use the tokenizer_config.json of an instruction-tuned model (e.g. gemma-2-2b-it), or give the rows as text');
  }

  const examples: PreferenceExample[] = [];
  const dropped: DroppedRow[] = [];
  const issues: RowIssue[] = [];
  for (const v of valid) {
    const name = rowName(o, v.row);
    let ids;
    try {
      ids = tokenizeRow(v.content, tok, seq.style);
    } catch (e) {
      if (!(e instanceof RowBuildError)) throw e;
      issues.push({ row: v.row, name, field: e.field, reason: e.reason, ...(e.hint !== undefined ? { hint: e.hint } : {}) });
      continue;
    }
    const outside = [...ids.promptIds, ...ids.chosenIds, ...ids.rejectedIds].find((id) => id >= o.vocabSize);
    if (outside !== undefined) {
      issues.push({ row: v.row, name, field: 'chosen', reason: `tokenizes to id ${outside}, ≥ the model's vocabulary size ${o.vocabSize}`, hint: 'tokenizer.json does not belong to this model: use the tokenizer files from the same checkpoint' });
      continue;
    }
    const cut = truncatePair(ids, seq);
    if ('dropReason' in cut) dropped.push({ row: v.row, name, reason: cut.dropReason });
    else examples.push({ row: v.row, ...cut, targets: v.targets });
  }
  if (issues.length > 0) throw datasetError(o, issues);
  if (examples.length === 0) {
    throw new DatasetError(o.file, `has no row left to train on: all ${dropped.length} rows were dropped because every prompt is at least max_length (${seq.maxLength}) tokens long — ${dropped[0].name}: ${dropped[0].reason}`,
      [], 'raise --max_length, or shorten the prompts (style "trl" can also cut prompts with --max_prompt_length)');
  }
  return { examples, dropped };
}

// ------------------------------------------------------------------ messages

/** One line per problem: "line 3: chosen is missing; …", "pairs[0].rejected[0] is number 9999, …". */
export function formatIssue(issue: RowIssue): string {
  const bracket = issue.name.endsWith(']');
  if (issue.field === '') return `${issue.name}${bracket ? ' (the row)' : ': the row'} ${issue.reason}`;
  return bracket ? `${issue.name}.${issue.field} ${issue.reason}` : `${issue.name}: ${issue.field} ${issue.reason}`;
}

function datasetError(n: RowNaming, issues: RowIssue[]): DatasetError {
  const rowsHit = new Set(issues.map((i) => i.row)).size;
  const listed = issues.slice(0, MAX_LISTED).map((i) => `  ${formatIssue(i)}`);
  const rest = issues.length - listed.length;
  const more = rest > 0 ? `\n  … and ${rest} more problem${rest === 1 ? '' : 's'}` : '';
  const hints = [...new Set(issues.map((i) => i.hint).filter((h): h is string => h !== undefined))].slice(0, 3);
  return new DatasetError(n.file, `has ${rowsHit} malformed row${rowsHit === 1 ? '' : 's'} (${rowNumbering(n)}):\n${listed.join('\n')}${more}`, issues, hints.length ? hints.join('; ') : undefined);
}
