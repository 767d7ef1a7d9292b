// tokenizer: load a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) from in-memory
// objects and expose the small surface PrefStudio needs: encode / decode, the special-token ids,
// and the chat template rendered exactly as Python `transformers` renders it.
//
// What it is:
//   - a thin, typed wrapper over @huggingface/tokenizers (tokenizers.js: zero dependencies, pure JS,
//     ~37 kB min; the tokenizer core that transformers.js 4.x itself uses) and @huggingface/jinja
//     (the Jinja subset transformers.js renders chat templates with). Both run unchanged in a page,
//     a Web Worker and Node; this file has no node: imports and never fetches anything.
//   - why not @huggingface/transformers: it pulls onnxruntime-node/-web and sharp (native binaries,
//     hundreds of MB) for a tokenizer we can get from its own 37 kB dependency.
//
// What it is not: a tokenizer implementation (the BPE/normalizer/decoder logic is the library's),
// a file loader (callers read the JSON from IndexedDB, a File, fetch or fs and pass the objects),
// or the TRL pair builder (pairs.ts).
//
// Spec: /work/shared/specs/gemma2-and-formats.md §2 (special tokens, tokenizer.json layout, chat
// template behaviour, JS libraries).

import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../errors.ts';

/** Something went wrong loading or using a tokenizer (bad JSON, unknown id, missing token). */
export class TokenizerError extends EngineError {}

/**
 * The chat template refused the messages (it called `raise_exception`, e.g. Gemma's "System role
 * not supported"), or could not be rendered at all. `templateMessage` is the template's own text.
 */
export class ChatTemplateError extends TokenizerError {
  readonly templateMessage: string;
  constructor(templateMessage: string, hint?: string) {
    super('tokenizer.applyChatTemplate', `the chat template raised: ${templateMessage}`, hint);
    this.templateMessage = templateMessage;
  }
}

/** One chat turn. `role` is "user" | "assistant" for Gemma (the template maps assistant → model). */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * The chat template of google/gemma-2-*-it (and gemma-7b-it / gemma-1.1-*-it: the same string),
 * verbatim. Sources (spec §2): huggingface.js `packages/ollama-utils/src/chat-template-automap.ts`
 * (library/gemma2:2b) and the gemma-7b-it entry of several public template test tables. Behaviour:
 * `<bos>`; system role → raise; roles must alternate user/assistant starting with user; assistant is
 * written `model`; each turn is `<start_of_turn>{role}\n{content|trim}<end_of_turn>\n`; then
 * `<start_of_turn>model\n` if add_generation_prompt. Gemma-3 ships a different template (a system
 * turn is folded into the first user turn instead of raising).
 */
export const GEMMA2_CHAT_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

export interface EncodeOptions {
  /** Run the post-processor (Gemma: prepend `<bos>`). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (`<bos>`, `<start_of_turn>`, …) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the assistant-turn header (Gemma: `<start_of_turn>model\n`). Default false. */
  addGenerationPrompt?: boolean;
  /**
   * Leave the last message open so a completion continues it (transformers
   * `continue_final_message`): the rendered text is cut right after the last message's content.
   * TRL uses this for prompts whose last turn is an assistant turn. Default false.
   */
  continueFinalMessage?: boolean;
}

/** The special-token strings named in tokenizer_config.json (null where the config names none). */
export interface SpecialTokens {
  bos: string | null;
  eos: string | null;
  pad: string | null;
  unk: string | null;
}

/**
 * A loaded tokenizer. Build it with loadTokenizer(); all methods are synchronous and pure.
 *
 * Token ids are plain JS numbers (Gemma's 256000-entry vocabulary fits easily in an int32).
 */
export class Tokenizer {
  /** Number of embedding rows the ids need: 1 + the largest id in the vocab or added tokens. */
  readonly vocabSize: number;
  /** Special-token strings from tokenizer_config.json. */
  readonly specialTokens: SpecialTokens;
  /** Ids of those tokens (null if the config names none). Gemma-2: bos 2, eos 1, pad 0. */
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly unkId: number | null;
  /** tokenizer_config.json `chat_template` (the "default" one if it is a list), or null. */
  readonly chatTemplate: string | null;

  readonly #hf: HfTokenizer;
  #template: Template | null = null; // parsed lazily, once

  /** Use loadTokenizer(). */
  constructor(hf: HfTokenizer, config: Record<string, unknown>) {
    this.#hf = hf;
    // vocabSize: transformers' len(tokenizer) is the vocab plus added tokens; for Gemma both are
    // contiguous from 0, so it equals 1 + max id (Gemma-2: 256000, spec §2; Gemma-3: 262145).
    let maxId = -1;
    for (const id of hf.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    this.specialTokens = {
      bos: tokenString(config, 'bos_token'),
      eos: tokenString(config, 'eos_token'),
      pad: tokenString(config, 'pad_token'),
      unk: tokenString(config, 'unk_token'),
    };
    this.bosId = this.#specialId('bos_token', this.specialTokens.bos);
    this.eosId = this.#specialId('eos_token', this.specialTokens.eos);
    this.padId = this.#specialId('pad_token', this.specialTokens.pad);
    this.unkId = this.#specialId('unk_token', this.specialTokens.unk);
    this.chatTemplate = pickChatTemplate(config.chat_template);
  }

  /** Token ids of `text`. With addSpecialTokens (default) Gemma prepends `<bos>` (id 2). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new TokenizerError('tokenizer.encode', `expected a string, got ${describeValue(text)}`);
    }
    return this.#hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Text of `ids`. Byte-fallback pieces (`<0xE2>`…) are fused back into UTF-8 characters. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (let i = 0; i < ids.length; i++) this.#checkId('tokenizer.decode', ids[i], `ids[${i}]`);
    return this.#hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** Id of a vocabulary piece or added token (`"<end_of_turn>"` → 107 on Gemma-2), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  /** Piece string of an id (`2` → `"<bos>"`), or undefined if no piece has that id. */
  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /**
   * Render `messages` with tokenizer_config.json's chat_template, as transformers'
   * `apply_chat_template(messages, tokenize=False, ...)` does: the context holds `messages`,
   * `add_generation_prompt` and the special-token strings (`bos_token`, `eos_token`, `pad_token`,
   * `unk_token`); `raise_exception(msg)` aborts. The result already contains `<bos>` for Gemma, so
   * encode it with `{ addSpecialTokens: false }` (else you get `<bos><bos>`; spec §2).
   *
   * Throws ChatTemplateError when the template raises (Gemma-2: a system turn, or roles that do not
   * alternate user/assistant starting with user).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const where = 'tokenizer.applyChatTemplate';
    if (this.chatTemplate === null) {
      throw new TokenizerError(where, 'tokenizer_config.json has no chat_template',
        'load the tokenizer with the tokenizer_config.json of an instruction-tuned model (e.g. gemma-2-2b-it), or add a chat_template to the config object');
    }
    checkMessages(where, messages);
    const addGenerationPrompt = options.addGenerationPrompt ?? false;
    const continueFinal = options.continueFinalMessage ?? false;
    if (addGenerationPrompt && continueFinal) {
      throw new TokenizerError(where, 'addGenerationPrompt and continueFinalMessage cannot both be set',
        'addGenerationPrompt opens a new assistant turn; continueFinalMessage keeps the last one open — pick one');
    }
    if (continueFinal && messages.length === 0) throw new TokenizerError(where, 'continueFinalMessage needs at least one message');

    this.#template ??= parseTemplate(this.chatTemplate);
    let text: string;
    try {
      text = this.#template.render({
        // Plain copies: the template sees exactly {role, content}, never caller objects.
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
        bos_token: this.specialTokens.bos ?? '',
        eos_token: this.specialTokens.eos ?? '',
        pad_token: this.specialTokens.pad ?? '',
        unk_token: this.specialTokens.unk ?? '',
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new ChatTemplateError(msg, templateHint(msg));
    }
    return continueFinal ? cutAfterFinalMessage(text, messages[messages.length - 1].content) : text;
  }

  /** Throws unless `id` is an integer in [0, vocabSize). */
  #checkId(where: string, id: unknown, what: string): void {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(where, `${what} = ${describeValue(id)} is not a token id (integers in [0, ${this.vocabSize}))`);
    }
  }

  #specialId(key: string, token: string | null): number | null {
    if (token === null) return null;
    const id = this.#hf.token_to_id(token);
    if (id === undefined) {
      throw new TokenizerError('loadTokenizer', `tokenizer_config.json ${key} is "${token}", which is not in tokenizer.json's vocabulary`,
        'the two files come from different models: load tokenizer.json and tokenizer_config.json from the same repository');
    }
    return id;
  }
}

/**
 * Build a Tokenizer from the parsed `tokenizer.json` and (optionally) `tokenizer_config.json`.
 * Without the config there are no special-token ids and no chat template.
 */
export function loadTokenizer(tokenizerJson: object, tokenizerConfig: object = {}): Tokenizer {
  const where = 'loadTokenizer';
  if (tokenizerJson === null || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson) || !('model' in tokenizerJson)) {
    throw new TokenizerError(where, `tokenizerJson is not a tokenizer.json object (no "model" key; got ${describeValue(tokenizerJson)})`,
      'pass the parsed file: JSON.parse(await file.text()), not the file text or the tokenizer_config.json');
  }
  if (tokenizerConfig === null || typeof tokenizerConfig !== 'object' || Array.isArray(tokenizerConfig)) {
    throw new TokenizerError(where, `tokenizerConfig must be the parsed tokenizer_config.json object, got ${describeValue(tokenizerConfig)}`);
  }
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
  } catch (err) {
    throw new TokenizerError(where, `tokenizers.js could not build the tokenizer: ${err instanceof Error ? err.message : String(err)}`,
      'check that tokenizer.json is a complete Hugging Face "fast" tokenizer file (model, normalizer, pre_tokenizer, decoder)');
  }
  return new Tokenizer(hf, tokenizerConfig as Record<string, unknown>);
}

// ------------------------------------------------------------------ helpers

/** A config token entry is a string or a serialized AddedToken `{content: "<bos>", …}`. */
function tokenString(config: Record<string, unknown>, key: string): string | null {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

/** chat_template is a string, or (older multi-template configs) a list of {name, template}. */
function pickChatTemplate(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => t && typeof t === 'object' && (t as { name?: unknown }).name === 'default');
    const tpl = (named as { template?: unknown } | undefined)?.template;
    return typeof tpl === 'string' ? tpl : null;
  }
  return null;
}

function parseTemplate(source: string): Template {
  try {
    return new Template(source);
  } catch (err) {
    throw new TokenizerError('tokenizer.applyChatTemplate', `the chat_template does not parse: ${err instanceof Error ? err.message : String(err)}`,
      '@huggingface/jinja supports the Jinja subset used by Hugging Face chat templates; check the template string in tokenizer_config.json');
  }
}

function checkMessages(where: string, messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new TokenizerError(where, `messages must be an array of {role, content}, got ${describeValue(messages)}`);
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object') throw new TokenizerError(where, `messages[${i}] must be an object {role, content}, got ${describeValue(m)}`);
    if (typeof m.role !== 'string') throw new TokenizerError(where, `messages[${i}].role must be a string, got ${describeValue(m.role)}`);
    if (typeof m.content !== 'string') throw new TokenizerError(where, `messages[${i}].content must be a string, got ${describeValue(m.content)}`);
  });
}

/** What to do about the errors Gemma-family templates raise. */
function templateHint(msg: string): string | undefined {
  if (/system role/i.test(msg)) {
    return 'Gemma-2 has no system role: prepend the system text to the first user message ("<system text>\\n\\n<user text>")';
  }
  if (/alternate/i.test(msg)) {
    return 'messages must go user, assistant, user, … starting with user (role "assistant", not "model")';
  }
  return undefined;
}

/**
 * transformers `apply_chat_template(continue_final_message=True)` (tokenization_utils_base.py):
 * find the last occurrence of the final message's stripped content and cut the rendered text right
 * after it. The template may have trimmed the message, so the search uses the stripped text.
 */
function cutAfterFinalMessage(rendered: string, finalContent: string): string {
  const stripped = finalContent.trim();
  const at = rendered.lastIndexOf(stripped);
  if (stripped === '' || at < 0) {
    throw new TokenizerError('tokenizer.applyChatTemplate', 'continueFinalMessage: the final message does not appear in the rendered chat',
      'the template rewrites that message (or it is empty), so the text cannot be left open after it');
  }
  // As transformers: if the rendered text holds the message verbatim from there (no leading
  // whitespace, trailing whitespace kept), cut after all of it; else after the stripped text.
  const lstripped = finalContent.trimStart();
  const end = rendered.slice(at, at + lstripped.length) === finalContent ? at + lstripped.length : at + stripped.length;
  return rendered.slice(0, end);
}

/** Short description of a value for error messages: its type, and the value when it is small. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return v.length > 40 ? `a string of length ${v.length}` : `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'object') return 'an object';
  return typeof v;
}
