// The `prefstudio` command table: every command, its flags (TRL / transformers names) and its
// handler. Parsing, number checks, usage text and `--help` come from this table (args.ts).
//
// Each handler receives the parsed options by canonical flag name: only the flags given on the
// command line, plus the ones with a `default` here (defaults that a preset or the handler must be
// able to tell apart from "not given" are left out and named in the help text instead). Handlers
// are imported when their command runs (tokenize's is small and also supplies help text), so one
// command's module cannot break another's.

import { PRESETS } from '../engine/train/presets.ts';
import type { CliIO, CommandSpec, FlagSpec, Opts } from './args.ts';
import { sequenceStyleHelp, tokenizeCommand, type TokenizeOptions } from './tokenize.ts';
import { recipeFlags } from './recipe.ts';

// ---------------------------------------------------------------------------------------------
// flags shared by several commands (one definition each; commands pick them by name)

const MODEL_HELP = 'a Hugging Face Gemma-2 folder: config.json, model.safetensors or sharded model-0000i-of-0000n.safetensors + index, tokenizer.json + tokenizer_config.json';
const PAIRS_HELP = 'preference pairs: {"pairs": [{"prompt", "chosen", "rejected"}]} with token-id arrays (used as given) or strings / message lists (tokenized as TRL does)';

const SHARED: Record<string, Omit<FlagSpec, 'name'>> = {
  model: { type: 'string', metavar: 'DIR', required: true, help: MODEL_HELP },
  adapter: { type: 'string', metavar: 'DIR', help: 'a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) for --model, applied on top of it' },
  // losses (TRL DPOConfig / CPOConfig)
  loss_type: { type: 'list', metavar: 'L[,L…]', group: 'loss', help: 'TRL loss_type, several for a weighted sum: sigmoid, hinge, ipo, exo_pair, nca_pair, robust, bco_pair, sppo_hard, aot, aot_unpaired, apo_zero, apo_down, discopop, sft, sigmoid_norm; simpo; sppo, sppo_single; gpo (GPO: unverified, spec §6).  (default sigmoid)' },
  loss_weights: { type: 'numlist', metavar: 'W[,W…]', group: 'loss', help: 'one weight per --loss_type, for their weighted sum (MPO) (default 1 each)' },
  use_weighting: { type: 'bool', group: 'loss', help: 'WPO: weigh each pair by exp(mean per-token log-prob − log Σ p²) of both answers (detached), clamped at 1' },
  wpo_no_clamp: { type: 'bool', group: 'loss', help: 'with --use_weighting: do not clamp the weight at 1 (TRL ≥ 0.29); the default clamp is the WPO authors\' and TRL ≤ 0.28\'s' },
  beta: { type: 'number', metavar: 'B', group: 'loss', help: 'β, the inverse temperature of the implicit reward (TRL default 0.1; SimPO\'s β)' },
  simpo_gamma: { type: 'number', metavar: 'G', group: 'loss', help: 'SimPO\'s target margin γ, absolute as in TRL\'s CPOConfig (= β × the SimPO repo\'s gamma_beta_ratio) (default 0.5)' },
  gamma_beta_ratio: { type: 'number', metavar: 'R', group: 'loss', help: 'SimPO\'s margin as the SimPO repo gives it, γ/β: sets --simpo_gamma to β × R (not both)' },
  cpo_alpha: { type: 'number', metavar: 'A', group: 'loss', help: 'weight of the NLL term CPO adds to simpo (default 0 = pure SimPO)' },
  label_smoothing: { type: 'number', metavar: 'E', group: 'loss', help: 'cDPO label smoothing ε for sigmoid; exo_pair\'s ε, robust\'s noise rate (default 0)' },
  // optimizer
  learning_rate: { type: 'number', metavar: 'LR', group: 'optimizer', help: 'peak learning rate (default 1e-6, TRL\'s)' },
  optim: { type: 'enum', choices: ['adamw_torch', 'rmsprop'], group: 'optimizer', help: 'AdamW or RMSProp (the SPPO recipe\'s), PyTorch\'s defaults unless given (default adamw_torch)' },
  weight_decay: { type: 'number', metavar: 'WD', group: 'optimizer', help: 'decoupled weight decay, not on norm weights, as the Hugging Face Trainer applies it (default 0)' },
  max_grad_norm: { type: 'number', metavar: 'N', group: 'optimizer', help: 'clip the global gradient norm to N (0 = no clipping)' },
  adam_beta1: { type: 'number', metavar: 'B1', group: 'optimizer', help: 'AdamW β1 (default 0.9)' },
  adam_beta2: { type: 'number', metavar: 'B2', group: 'optimizer', help: 'AdamW β2 (default 0.999)' },
  adam_epsilon: { type: 'number', metavar: 'EPS', group: 'optimizer', help: 'AdamW ε (default 1e-8)' },
  // sequences (TRL's tokenization rules; pairs.ts)
  max_length: { type: 'int', metavar: 'N', group: 'sequences', help: 'longest prompt + completion in tokens (default: the sequence style\'s)' },
  max_prompt_length: { type: 'int', metavar: 'N', group: 'sequences', help: 'longest prompt in tokens (default: the sequence style\'s)' },
  max_completion_length: { type: 'int', metavar: 'N', group: 'sequences', help: 'longest completion in tokens (sequence style trl; default none)' },
  truncation_mode: { type: 'enum', choices: ['keep_end', 'keep_start'], group: 'sequences', help: 'which end of a too-long prompt survives (default: the sequence style\'s)' },
  sequence_style: { type: 'string', metavar: 'STYLE', group: 'sequences', help: 'which TRL version\'s sequence rules to follow (see "Sequence rules" below)' },
};

/** The shared flags `names`, in that order, with per-command changes. */
function pick(names: string[], changes: Record<string, Partial<FlagSpec>> = {}): FlagSpec[] {
  return names.map((name) => {
    const spec = SHARED[name];
    if (!spec) throw new Error(`commands.ts: no shared flag '${name}'`);
    return { name, ...spec, ...changes[name] };
  });
}

const SEQUENCE_FLAGS = ['max_length', 'max_prompt_length', 'max_completion_length', 'truncation_mode', 'sequence_style'];

// ---------------------------------------------------------------------------------------------
// logps and generate (adapters from the table's options to their modules)

/** Opens a checkpoint folder and uploads its weights, with progress on stderr. */
async function loadForInference(dir: string, io: CliIO, adapterDir?: string) {
  const { openModelFolder, uploadModel, attachAdapter } = await import('./model.ts');
  const opened = await openModelFolder(dir, io);
  const adapter = adapterDir === undefined ? null : (await (await import('./export.ts')).openAdapterFolder(adapterDir, opened, io)).adapter;
  const m = await uploadModel(opened, io);
  if (adapter) attachAdapter(m, adapter);
  return { e: m.e, ckpt: m.ckpt, params: m.params, tokenizer: m.tokenizerFiles };
}

async function logps(opts: Opts, io: CliIO): Promise<void> {
  const { logpsCommand } = await import('./logps.ts');
  await logpsCommand({ model: String(opts.model), pairs: String(opts.pairs), ...(opts.adapter !== undefined && { adapter: String(opts.adapter) }) }, io);
}

async function generate(opts: Opts, io: CliIO): Promise<void> {
  const { generateCommand } = await import('./generate.ts');
  const m = await loadForInference(String(opts.model), io, opts.adapter === undefined ? undefined : String(opts.adapter));
  try {
    const flags = { prompt: String(opts.prompt), maxNewTokens: Number(opts.max_new_tokens), temperature: Number(opts.temperature), topP: Number(opts.top_p), seed: Number(opts.seed) };
    io.stdout(`${await generateCommand(m.e, m.ckpt, m.tokenizer, m.params, flags, io.log)}\n`);
  } finally {
    m.e.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// the table

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'logps',
    summary: 'per-token log-probs (and the WPO term log Σ p²) of preference pairs under a checkpoint, as JSON on stdout',
    flags: [...pick(['model', 'adapter']), { name: 'pairs', type: 'string', metavar: 'FILE', required: true, help: PAIRS_HELP }],
    details: 'stdout: {"pairs": [{"chosen": {"logp", "tokens", "token_logps", "token_log_sum_p2"}, "rejected": {…}}]}. Progress and errors go to stderr.',
    run: logps,
  },
  {
    name: 'generate',
    summary: 'a preview generation from a prompt (chat template + generation prompt when the tokenizer has one), text on stdout',
    flags: [
      ...pick(['model', 'adapter']),
      { name: 'prompt', type: 'string', metavar: 'TEXT', required: true, help: 'the user turn' },
      { name: 'max_new_tokens', type: 'int', metavar: 'N', default: 64, help: 'stop after N tokens (or at <eos> / <end_of_turn>)' },
      { name: 'temperature', type: 'number', metavar: 'T', default: 0, help: 'sampling temperature; 0 = greedy' },
      { name: 'top_p', type: 'number', metavar: 'P', default: 1, help: 'nucleus sampling: keep the most likely tokens up to probability P' },
      { name: 'seed', type: 'int', metavar: 'S', default: 0, help: 'sampling seed' },
    ],
    run: generate,
  },
  {
    name: 'tokenize',
    summary: 'token ids as the trainer makes them, as JSON on stdout: of a text, of a chat rendered with the model\'s template, or of preference pairs',
    flags: [
      { ...pick(['model'])[0], help: `${MODEL_HELP} (weights are not needed)` },
      { name: 'text', type: 'string', metavar: 'TEXT', help: 'tokenize TEXT → {"ids"}' },
      { name: 'add_special_tokens', type: 'bool', help: 'with --text: add <bos> as the tokenizer does (default true)' },
      { name: 'chat', type: 'string', metavar: 'FILE', help: 'render FILE\'s {"messages": [...]} with the chat template → {"text", "ids"} (ids without added special tokens, as TRL tokenizes rendered templates)' },
      { name: 'add_generation_prompt', type: 'bool', help: 'with --chat: end with the model turn\'s opening' },
      { name: 'pairs', type: 'string', metavar: 'FILE', help: `${PAIRS_HELP} (also .jsonl / .parquet datasets) → {"pairs": [{"prompt_ids", "chosen_ids", "rejected_ids", "truncated"}]} exactly as the trainer trains on them` },
      ...pick(SEQUENCE_FLAGS),
    ],
    exclusive: [{ flags: ['text', 'chat', 'pairs'], required: true }],
    details: sequenceStyleHelp(),
    run: (opts, io) => tokenizeCommand(opts as unknown as TokenizeOptions, io),
  },
  {
    name: 'train',
    summary: 'full fine-tuning, or LoRA with --use_peft, with a preference loss (DPO and every TRL loss type, WPO, SimPO, SPPO, GPO); writes DIR/metrics.jsonl and DIR/final/',
    flags: [
      ...pick(['model']),
      { name: 'data', type: 'string', metavar: 'FILE', required: true, help: 'the preference set: .jsonl, .json or .parquet; rows as text, message lists (TRL standard / conversational, UltraFeedback-style), token ids, with SPPO / GPO target columns' },
      { name: 'out', type: 'string', metavar: 'DIR', required: true, help: 'output folder: metrics.jsonl (one line per optimizer step), train_args.json, final/ (a Hugging Face checkpoint)' },
      { name: 'preset', type: 'string', metavar: 'NAME', help: `a published recipe: ${Object.keys(PRESETS).join(', ')} (scaled for small models such as the demo); explicit flags override it` },
      { name: 'eval_data', type: 'string', metavar: 'FILE', help: 'held-out pairs: metrics before and after training (DIR/eval_metrics.json)' },
      { name: 'seed', type: 'int', metavar: 'S', help: 'shuffling seed; the same seed gives a bitwise-identical run (default 42)' },
      { name: 'logging_steps', type: 'int', metavar: 'N', help: 'a TRL-style log line every N optimizer steps (default 10)' },
      { name: 'save_final', type: 'bool', default: true, help: 'write DIR/final/ at the end; --save_final false skips it' },
      { name: 'cache_dir', type: 'string', metavar: 'DIR', help: 'where reference log-probs are cached (default $XDG_CACHE_HOME/prefstudio or ~/.cache/prefstudio)' },
      { name: 'save_steps', type: 'int', metavar: 'N', group: 'checkpoints', help: 'save a checkpoint every N optimizer steps and at the end: DIR/checkpoint-<step>/ (trainable weights or the adapter, optimizer state, schedule position, data order, reference log-probs, metrics so far), written whole or not at all' },
      { name: 'save_total_limit', type: 'int', metavar: 'K', group: 'checkpoints', help: 'keep only the newest K checkpoints (an older one is deleted once a newer one is complete)' },
      { name: 'resume', type: 'string', metavar: 'DIR', bareValue: true, group: 'checkpoints', help: 'continue the run from checkpoint folder DIR, or with no value from the newest complete one under --out; the same settings and data are required; metrics.jsonl continues from the checkpoint\'s step, and the result equals an uninterrupted run bit for bit' },
      ...pick(['loss_type', 'loss_weights', 'use_weighting', 'wpo_no_clamp', 'beta', 'simpo_gamma', 'gamma_beta_ratio', 'cpo_alpha', 'label_smoothing']),
      { name: 'rpo_alpha', type: 'number', metavar: 'A', group: 'loss', help: 'the classic spelling of --loss_type sigmoid,sft --loss_weights 1,A' },
      { name: 'reference_free', type: 'bool', group: 'loss', help: 'no reference model: the reference log-probs are 0' },
      { name: 'f_divergence_type', type: 'enum', choices: ['reverse_kl', 'forward_kl', 'js', 'alpha'], group: 'loss', help: 'the f-divergence behind the implicit reward, as TRL (default reverse_kl)' },
      { name: 'f_alpha_divergence_coef', type: 'number', metavar: 'X', group: 'loss', help: 'α of --f_divergence_type alpha (default 0.5)' },
      { name: 'ld_alpha', type: 'number', metavar: 'X', group: 'loss', help: 'LD-DPO: weight of completion tokens past the shorter answer\'s length' },
      { name: 'discopop_tau', type: 'number', metavar: 'X', group: 'loss', help: 'τ of loss_type discopop (default 0.05)' },
      ...pick(['learning_rate', 'optim', 'weight_decay', 'max_grad_norm', 'adam_beta1', 'adam_beta2', 'adam_epsilon'], { max_grad_norm: { help: 'clip the global gradient norm to N (default 1.0; 0 = no clipping)' } }),
      { name: 'lr_scheduler_type', type: 'string', metavar: 'S', group: 'schedule', help: 'linear, cosine, constant or constant_with_warmup, as transformers (default linear); warmup from --warmup_ratio or --warmup_steps' },
      { name: 'warmup_ratio', type: 'number', metavar: 'R', group: 'schedule', help: 'linear warmup over this fraction of the steps (default 0)' },
      { name: 'warmup_steps', type: 'int', metavar: 'N', group: 'schedule', help: 'linear warmup over N steps (overrides --warmup_ratio)' },
      { name: 'max_steps', type: 'int', metavar: 'N', group: 'schedule', help: 'stop after N optimizer steps' },
      { name: 'num_train_epochs', type: 'number', metavar: 'E', group: 'schedule', help: 'passes over the data (default 3)' },
      { name: 'per_device_train_batch_size', type: 'int', metavar: 'B', group: 'schedule', help: 'pairs per micro-batch (default 8)' },
      { name: 'gradient_accumulation_steps', type: 'int', metavar: 'K', group: 'schedule', help: 'micro-batches per optimizer step (default 1)' },
      { name: 'gradient_checkpointing', type: 'bool', group: 'schedule', help: 'keep only each layer\'s input and recompute its activations in the backward (transformers\' gradient_checkpointing): far less GPU memory for about one more forward of compute; the same numbers bit for bit' },
      ...pick(SEQUENCE_FLAGS),
      { name: 'use_peft', type: 'bool', group: 'lora', help: 'train a LoRA adapter on the frozen base instead of every weight; the reference is the base with the adapter off' },
      { name: 'lora_r', type: 'int', metavar: 'R', group: 'lora', help: 'LoRA rank (default 16)' },
      { name: 'lora_alpha', type: 'number', metavar: 'A', group: 'lora', help: 'LoRA alpha: the branch is scaled by alpha / r (default 32)' },
      { name: 'lora_dropout', type: 'number', metavar: 'P', group: 'lora', help: 'dropout on the LoRA branch\'s input during training steps (default 0.05)' },
      { name: 'lora_target_modules', type: 'list', metavar: 'M[,M…]', group: 'lora', help: 'modules to adapt: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, or all-linear (default: all seven)' },
      { name: 'use_rslora', type: 'bool', group: 'lora', help: 'rank-stabilised LoRA: scale by alpha / √r instead of alpha / r' },
      { name: 'adapter', type: 'string', metavar: 'DIR', group: 'lora', help: 'with --use_peft: continue training this PEFT LoRA adapter folder (its adapter_config.json sets r, alpha, dropout, targets) instead of a fresh one' },
    ],
    exclusive: [{ flags: ['max_steps', 'num_train_epochs'] }],
    details: `Presets: ${Object.values(PRESETS).map((p) => `${p.name} (${p.source})`).join('; ')}.\n\n${sequenceStyleHelp()}`,
    run: async (opts, io) => (await import('./train.ts')).trainCommand(opts, io),
  },
  {
    name: 'recipe',
    summary: 'a TRL recipe for a multi-GPU cluster from the same settings as train: DIR/recipe.yaml (trl dpo --config), README.md (the accelerate launch line, what differs), data.jsonl',
    // train's settings as they grow (src/cli/recipe.ts); a getter, read after COMMANDS exists
    get flags() {
      return recipeFlags(COMMANDS.find((c) => c.name === 'train')!.flags);
    },
    details: 'Names are TRL 1.12\'s DPOConfig / ModelConfig / TrainingArguments fields (SimPO: trl.experimental.cpo.CPOConfig, run by the recipe\'s train_cpo.py). A setting TRL has no exact counterpart for (WPO\'s weight clamp, SPPO\'s soft labels, GPO, reference_free, …) is printed as a warning and written into recipe.yaml and README.md with the nearest TRL setting.',
    run: async (opts, io) => (await import('./recipe.ts')).recipeCommand(opts, io),
  },
  {
    name: 'step',
    summary: 'one full-fine-tuning step on exactly the given pairs as one batch (reference = the initial model); writes a JSON report of the loss, per-pair values, gradient norms and updated parameters',
    flags: [
      ...pick(['model']),
      { name: 'pairs', type: 'string', metavar: 'FILE', required: true, help: `${PAIRS_HELP}; all of them are one batch` },
      { name: 'report', type: 'string', metavar: 'OUT.json', required: true, help: 'where the report goes: {"loss", "pairs", "grad_norm", "grad_norms", "params_after"}' },
      ...pick(['loss_type', 'loss_weights', 'use_weighting', 'wpo_no_clamp', 'beta', 'simpo_gamma', 'gamma_beta_ratio', 'cpo_alpha', 'label_smoothing']),
      ...pick(['learning_rate', 'weight_decay', 'optim', 'max_grad_norm', 'adam_beta1', 'adam_beta2', 'adam_epsilon'], { max_grad_norm: { help: 'clip the global gradient norm to N (default: no clipping)' } }),
    ],
    run: async (opts, io) => (await import('./step.ts')).stepCommand(opts, io),
  },
  {
    name: 'export',
    summary: 'a Hugging Face checkpoint folder from --model, with a PEFT LoRA adapter merged into its weights (W + scale·B·A), in another dtype or shard size',
    flags: [
      ...pick(['model']),
      { name: 'adapter', type: 'string', metavar: 'DIR', help: 'a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to merge: every weight it targets becomes W + scale·B·A, scale = lora_alpha / r (/ √r with use_rslora)' },
      { name: 'out', type: 'string', metavar: 'DIR', required: true, help: 'the folder to write (replaced whole if it exists; must not be --model or --adapter)' },
      { name: 'dtype', type: 'enum', choices: ['bf16', 'f16', 'f32'], help: 'write every tensor in this dtype, rounding to nearest even (default: each tensor\'s input dtype)' },
      { name: 'max_shard_size', type: 'string', metavar: 'SIZE', help: 'largest shard, as huggingface_hub takes it: bytes, or 5GB, 500MB, 2GiB … (default 5GB); above it: model-0000k-of-0000n.safetensors + model.safetensors.index.json' },
    ],
    details: 'Tensor names and order are the input\'s; config.json (its dtype rewritten when --dtype changes it), generation_config.json and tokenizer files are copied. The merge is computed in float64 and rounded once to f32, then to the output dtype. One tensor is in memory at a time; the folder appears whole or not at all.',
    run: async (opts, io) => (await import('./export.ts')).exportCommand(opts, io),
  },
];
