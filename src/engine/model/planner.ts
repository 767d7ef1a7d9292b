// Memory planner: predicts the GPU memory a Gemma-2 run needs, by category, from config.json alone
// (no weights), so a run can say "this will not fit, and here is what to change" before a download,
// an import or a weight upload starts (fits()).
//
// It lists the tensors the engine allocates — by shape, as the code allocates them — in the phases
// of one training step, and adds them up two ways:
//   live   the most bytes live tensors hold at one moment (their own sizes; the categories below
//          are that moment's composition);
//   total  the pool's peak (pool.ts): buffers come in size classes and a class keeps as many
//          buffers as it ever had live at once, so total = Σ over classes of (class size × the most
//          tensors of that class live in any phase). Activation buffers freed during the backward
//          serve gradients only where the sizes share a class, so total is near live + gradients.
//
// Categories:
//   frozenWeights     weights that get no gradient: LoRA's base and every weight of a logps run;
//                     16-bit (2 bytes/param) when kept 16-bit (`weights16`), norms always f32;
//   trainableWeights  f32 tensors the optimizer updates: every weight (full fine-tuning) or LoRA's
//                     A (r, in) and B (out, r) per targeted projection;
//   gradients         one f32 tensor per trainable tensor (the tied embedding's one [V, C], which
//                     the LM head's backward and the embedding's add into); with gradient
//                     accumulation every gradient lives through the later micro-batches;
//   optimizer         AdamW's m and v (RMSProp: one) per trainable tensor;
//   activations       what the tape holds between forward and backward: every input and output of
//                     a recorded op in gemma2.ts blockForward and model/linear.ts (LoRA adds the
//                     branch's dropout output, x·Aᵀ, its scaled copy, the branch and the sum per
//                     targeted projection), plus the embedding output and the LM head's inputs; with
//                     gradient checkpointing only each layer's input (B·T·C) plus, in the backward,
//                     one layer re-run with recording on (recompute.ts);
//   logits            the fused LM head (ops/logprobs.ts): forward partials [B·T, S, 5] and the
//                     backward's g chunk (≤ 16 MiB) — the [B·T, V] logits are never stored;
//   workspace         the backward's temporaries in one layer (MLP: d(act), d(gate), d(up) [B·T, FF]
//                     and the residual's gradient; attention: dO, dQ, dK, dV, the softmax stats).
// Legend: B sequences per micro-batch (a preference pair is 2), T tokens, C hidden, V vocab,
// L layers, NH/KVH heads, HD head dim, FF MLP width, r LoRA rank.

// Imports stay light (no engine, no kernels): the studio's page plans before any GPU work.
import { sizeClass } from '../pool.ts';
import type { Gemma2Config } from './config.ts';
import { expectedTensors, parameterCount } from './config.ts';
import type { LoraConfig, LoraTarget } from './lora.ts';

export type PlanMode = 'logps' | 'full-finetune' | 'lora';

export interface PlanOptions {
  mode: PlanMode;
  /** Sequences per micro-batch (rows: 2 per preference pair). */
  B: number;
  /** Tokens per sequence (the padded length, e.g. max_length). */
  T: number;
  /** Frozen weights (LoRA's base, a logps run's model) stay 16-bit on the GPU; default false (f32). */
  weights16?: boolean;
  /** LoRA settings (mode 'lora'); PEFT/TRL defaults r 16, dropout 0.05, all seven projections. */
  lora?: Partial<Pick<LoraConfig, 'r' | 'targets' | 'dropout'>>;
  /** Recompute each layer in the backward (--gradient_checkpointing). */
  gradientCheckpointing?: boolean;
  /** adamw_torch (m, v: default) or rmsprop (one state tensor). */
  optim?: 'adamw_torch' | 'rmsprop';
  /** Micro-batches per optimizer step: above 1, every gradient is live through the later ones. */
  gradientAccumulationSteps?: number;
}

export type Category = 'frozenWeights' | 'trainableWeights' | 'gradients' | 'optimizer' | 'activations' | 'logits' | 'workspace';
export const CATEGORIES: readonly Category[] = ['frozenWeights', 'trainableWeights', 'gradients', 'optimizer', 'activations', 'logits', 'workspace'];

export interface MemoryPlan extends Record<Category, number> {
  /** The most bytes live tensors hold at one moment (= the categories' sum). */
  live: number;
  /** Predicted pool peak (size classes, buffers kept per class): what the GPU must hold. */
  total: number;
  /** The phase of the step where `live` is reached. */
  peakPhase: string;
  /** All saved activations of a forward with recording on (no checkpointing), for comparison. */
  savedActivations: number;
  /** Frozen + trainable weights. */
  weights: number;
  /** = logits (the fused LM head's buffers). */
  logprobs: number;
  /** The largest weight tensor (the embedding: the loader splits it into row parts over the binding limit). */
  largestTensor: { name: string; bytes: number };
  /** The largest weight that must fit one binding (every one but the embedding), with its gradient and state. */
  largestMatrix: { name: string; bytes: number };
  /** The largest tensor that cannot be split (activations, workspace, the LM head's scratch). */
  largestActivation: { name: string; bytes: number };
  parameters: number;
  trainableParameters: number;
  /** What was planned (fits() plans variants of it). */
  config: Gemma2Config;
  options: PlanOptions;
}

const F32 = 4;
/** Floats per partial record of the LM head's forward (ops/logprobs.ts PREC). */
const PARTIAL_FLOATS = 5;
/** The LM head's tile width and backward scratch bound (ops/logprobs.ts BN, SCRATCH_BYTES). */
const HEAD_TILE = 64;
const HEAD_SCRATCH = 16 * 1024 * 1024;

/** ops/logprobs.ts defaultSliceSize and defaultChunkSize (planner.test.ts checks they agree). */
export function headSlices(V: number, N: number): { slices: number; chunk: number } {
  const slice = Math.max(HEAD_TILE, Math.ceil(Math.ceil(V / 32) / HEAD_TILE) * HEAD_TILE);
  const chunk = Math.min(V, Math.max(HEAD_TILE, Math.floor(HEAD_SCRATCH / 4 / Math.max(1, N) / HEAD_TILE) * HEAD_TILE));
  return { slices: Math.ceil(V / slice), chunk };
}

/** n tensors of `bytes` each, in a category. */
interface Item {
  cat: Category;
  name: string;
  bytes: number;
  n: number;
}

const item = (cat: Category, name: string, bytes: number, n = 1): Item => ({ cat, name, bytes, n });
const f32 = (cat: Category, name: string, floats: number, n = 1): Item => item(cat, name, floats * F32, n);
const times = (items: Item[], k: number): Item[] => (k === 0 ? [] : items.map((x) => ({ ...x, n: x.n * k })));

/** Floats the tape holds per token per layer without LoRA (every recorded input/output of blockForward). */
export function activationFloatsPerTokenLayer(cfg: Gemma2Config): number {
  const { C, NH, KVH, HD, FF } = cfg;
  return 8 * C + 3 * NH * HD + 3 * KVH * HD + 3 * FF + NH + 4;
}

export function planMemory(cfg: Gemma2Config, opts: PlanOptions): MemoryPlan {
  const { V, C, FF, L, NH, KVH, HD } = cfg;
  const training = opts.mode !== 'logps';
  // A projection's (in, out) features from its weight's [out, in] shape; LoRA's targets default to all seven.
  const projections = new Map(expectedTensors(cfg).flatMap((t) => (/^model\.layers\.0\..*_proj\.weight$/.test(t.name) ? [[t.name.split('.').at(-2) as LoraTarget, { inF: t.shape[1], outF: t.shape[0] }] as const] : [])));
  const targetFeatures = (_: Gemma2Config, t: LoraTarget): { inF: number; outF: number } => projections.get(t)!;
  const lora = opts.mode === 'lora' ? { r: opts.lora?.r ?? 16, targets: opts.lora?.targets ?? [...projections.keys()], dropout: opts.lora?.dropout ?? 0.05 } : null;
  const ckpt = training && (opts.gradientCheckpointing ?? false);
  const N = opts.B * opts.T; // tokens per micro-batch
  const targeted = (t: LoraTarget): boolean => lora !== null && lora.targets.includes(t);

  // ---- weights, gradients, optimizer state
  const weights: Item[] = [];
  const trainable: { name: string; floats: number }[] = [];
  let largestTensor = { name: '', bytes: 0 };
  let largestMatrix = { name: '', bytes: 0 };
  for (const t of expectedTensors(cfg)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const frozen = opts.mode !== 'full-finetune';
    const half = frozen && (opts.weights16 ?? false) && t.shape.length > 1; // norms are widened (load.ts FROZEN_16BIT)
    const bytes = half ? Math.ceil(n / 2) * 4 : n * F32;
    weights.push(item(frozen ? 'frozenWeights' : 'trainableWeights', t.name, bytes));
    if (!frozen) trainable.push({ name: t.name, floats: n });
    if (bytes > largestTensor.bytes) largestTensor = { name: t.name, bytes };
    if (t.name !== 'model.embed_tokens.weight' && bytes > largestMatrix.bytes) largestMatrix = { name: t.name, bytes };
  }
  if (lora) {
    for (let i = 0; i < L; i++) {
      for (const t of lora.targets) {
        const { inF, outF } = targetFeatures(cfg, t);
        trainable.push({ name: `lora.${i}.${t}.A`, floats: lora.r * inF }, { name: `lora.${i}.${t}.B`, floats: outF * lora.r });
      }
    }
    for (const p of trainable) weights.push(f32('trainableWeights', p.name, p.floats));
  }
  const states = opts.optim === 'rmsprop' ? 1 : 2;
  const optimizer: Item[] = training ? trainable.map((p) => f32('optimizer', `${p.name}.state`, p.floats, states)) : [];
  const persistent = [...weights, ...optimizer];
  // The embedding's gradient (full fine-tuning) comes first, from the LM head; the others per layer.
  const embedGrad = opts.mode === 'full-finetune' ? [f32('gradients', 'model.embed_tokens.weight.grad', V * C)] : [];
  const grads: Item[] = training ? trainable.filter((p) => p.name !== 'model.embed_tokens.weight').map((p) => f32('gradients', `${p.name}.grad`, p.floats)) : [];
  const accumulating = (opts.gradientAccumulationSteps ?? 1) > 1; // later micro-batches start with every gradient
  const layerGrads = (i: number): Item[] => (accumulating ? grads : grads.filter((g) => g.name.startsWith(`model.layers.${i}.`) || g.name.startsWith(`lora.${i}.`)));
  const otherGrads = accumulating ? [] : grads.filter((g) => !/^(model\.layers|lora)\.\d+\./.test(g.name));
  const heldGrads = accumulating ? [...embedGrad, ...grads] : [];

  // ---- one layer's saved activations (blockForward, linear.ts), per micro-batch
  const proj = (t: LoraTarget): Item[] => {
    const { inF, outF } = targetFeatures(cfg, t);
    if (!targeted(t)) return [f32('activations', `${t}.out`, N * outF)];
    return [
      f32('activations', `${t}.base`, N * outF),
      ...(lora!.dropout > 0 ? [f32('activations', `${t}.dropout`, N * inF)] : []),
      f32('activations', `${t}.xA`, N * lora!.r, 2), // x·Aᵀ and its scaled copy
      f32('activations', `${t}.branch`, N * outF),
      f32('activations', `${t}.sum`, N * outF),
    ];
  };
  const rms = (name: string): Item[] => [f32('activations', name, N * C), f32('activations', `${name}.rstd`, N)];
  const attnBlock: Item[] = [
    ...rms('input_norm'),
    ...proj('q_proj'),
    ...proj('k_proj'),
    ...proj('v_proj'),
    f32('activations', 'rope.q', N * NH * HD),
    f32('activations', 'rope.k', N * KVH * HD),
    f32('activations', 'attention.o', N * NH * HD),
    f32('activations', 'attention.lse', N * NH),
    ...proj('o_proj'),
    ...rms('post_attn_norm'),
    f32('activations', 'h1', N * C),
  ];
  const mlpBlock: Item[] = [...rms('pre_ffw_norm'), ...proj('gate_proj'), ...proj('up_proj'), f32('activations', 'geglu', N * FF), ...proj('down_proj'), ...rms('post_ffw_norm'), f32('activations', 'h2', N * C)];
  const layer = [...attnBlock, ...mlpBlock];
  const hidden = f32('activations', 'hidden', N * C);
  const inputs: Item[] = [
    item('activations', 'ids, mask, labels (i32)', N * 4, 3),
    item('activations', 'positions', opts.T * 4),
    f32('activations', 'token weight, mask', N, 2),
  ];
  // The LM head's inputs and outputs: final norm, logp, lse, lsp2, its saved lse, zmean, correct.
  const head: Item[] = [...rms('final_norm'), f32('activations', 'logprobs outputs', N, 6)];
  const savedActivations = bytesOf([hidden, ...times(layer, L), ...head]);

  // ---- the LM head's buffers and the backward's temporaries
  const { slices, chunk } = headSlices(V, N);
  const partials = [f32('logits', 'logprobs.partials', N * slices * PARTIAL_FLOATS), f32('logits', 'logprobs.zlab', N)];
  const gChunk = f32('logits', 'logprobs.g', N * chunk);
  const dh = f32('workspace', 'logprobs.dh', N * C);
  const residualGrad = f32('workspace', 'residual grad', N * C, 2);
  const mlpWork = [f32('workspace', 'd(act), d(gate), d(up)', N * FF, lora && (targeted('down_proj') || targeted('gate_proj')) ? 4 : 3), residualGrad];
  const attnWork = [f32('workspace', 'dO, dQ', N * NH * HD, 2), f32('workspace', 'dK, dV', N * KVH * HD, 2), f32('workspace', 'attention.stats', N * NH * 2), residualGrad];
  const workspace = bytesOf(mlpWork) >= bytesOf(attnWork) ? mlpWork : attnWork;

  // ---- the phases of one step
  const phases: { name: string; items: Item[] }[] = [];
  const phase = (name: string, ...parts: Item[][]): void => {
    phases.push({ name, items: parts.flat() });
  };
  if (!training) {
    // noGrad: one layer's tensors at a time (each sub-block's freed as it ends), then the head
    phase('forward', weights, inputs, [hidden], bytesOf(attnBlock) >= bytesOf(mlpBlock) ? attnBlock : mlpBlock);
    phase('LM head', weights, inputs, [hidden], head, partials);
  } else if (!ckpt) {
    const acts = [...inputs, hidden, ...times(layer, L)];
    phase('LM head forward', persistent, heldGrads, acts, head, partials);
    phase('LM head backward', persistent, heldGrads.length ? heldGrads : embedGrad, acts, head, [gChunk, dh]);
    phase(`layer ${L - 1} backward`, persistent, acts, embedGrad, otherGrads, layerGrads(L - 1), workspace);
    phase('layer 0 backward', persistent, inputs, [hidden], layer, embedGrad, grads, workspace);
  } else {
    const kept = [...inputs, ...times([hidden], L + 1)]; // every layer's input and the last output
    phase('forward', persistent, heldGrads, kept, bytesOf(attnBlock) >= bytesOf(mlpBlock) ? attnBlock : mlpBlock);
    phase('LM head forward', persistent, heldGrads, kept, head, partials);
    phase('LM head backward', persistent, heldGrads.length ? heldGrads : embedGrad, kept, head, [gChunk, dh]);
    phase(`layer ${L - 1} backward (re-run)`, persistent, kept, layer, embedGrad, otherGrads, layerGrads(L - 1), workspace);
    phase('layer 0 backward (re-run)', persistent, inputs, [hidden, hidden], layer, embedGrad, grads, workspace);
  }
  if (training) phase('optimizer', persistent, grads, embedGrad);

  // ---- live peak (and its composition), pool peak by size class
  let peak = phases[0];
  for (const p of phases) if (bytesOf(p.items) > bytesOf(peak.items)) peak = p;
  const byCat = Object.fromEntries(CATEGORIES.map((c) => [c, bytesOf(peak.items.filter((x) => x.cat === c))])) as Record<Category, number>;
  const most = new Map<number, number>();
  for (const p of phases) {
    const count = new Map<number, number>();
    for (const x of p.items) {
      const c = sizeClass(Math.max(4, x.bytes));
      count.set(c, (count.get(c) ?? 0) + x.n);
    }
    for (const [c, n] of count) most.set(c, Math.max(most.get(c) ?? 0, n));
  }
  let total = 0;
  for (const [c, n] of most) total += c * n;
  let largestActivation = { name: '', bytes: 0 };
  for (const p of phases) for (const x of p.items) if (!x.cat.endsWith('Weights') && x.cat !== 'optimizer' && x.cat !== 'gradients' && x.bytes > largestActivation.bytes) largestActivation = { name: x.name, bytes: x.bytes };
  return {
    ...byCat,
    live: bytesOf(peak.items),
    total,
    peakPhase: peak.name,
    savedActivations,
    weights: bytesOf(weights),
    logprobs: byCat.logits,
    largestTensor,
    largestMatrix,
    largestActivation,
    parameters: parameterCount(cfg),
    trainableParameters: training ? trainable.reduce((a, p) => a + p.floats, 0) : 0,
    config: cfg,
    options: { ...opts },
  };
}

/** What the adapter allows: its buffer limits and, when known, the memory a run may use. */
export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Bytes the run may use. WebGPU does not tell a page; a software adapter uses the computer's memory. */
  memoryBytes?: number;
}

export interface FitCheck {
  ok: boolean;
  /** What does not fit, with its numbers. */
  problems: string[];
  /** What to change, in order (each on top of the ones before), with the plan's total after it. */
  advice: string[];
}

/**
 * Whether `plan` fits the adapter: every tensor that cannot be split within one buffer binding
 * (min(maxBufferSize, maxStorageBufferBindingSize); the embedding is split into row parts), and the
 * total within `memoryBytes` when given. When not, it says what to change — LoRA on a 16-bit base,
 * gradient checkpointing, a shorter max_length, a smaller batch — with the total each change gives.
 */
export function fits(plan: MemoryPlan, limits: DeviceLimits): FitCheck {
  const problems: string[] = [];
  const advice: string[] = [];
  const { options: o, config: cfg } = plan;
  const binding = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const pairs = Math.max(1, Math.floor(o.B / 2));
  if (plan.largestMatrix.bytes > binding) {
    problems.push(`${plan.largestMatrix.name} takes ${gib(plan.largestMatrix.bytes)}, over this adapter's ${gib(binding)} per buffer (maxStorageBufferBindingSize / maxBufferSize), and cannot be split`);
    advice.push(o.mode === 'full-finetune' || !o.weights16 ? 'LoRA (--use_peft) on a bf16/f16 checkpoint keeps each frozen matrix 16-bit, half the size' : 'this model cannot be trained on this adapter');
  }
  if (plan.largestActivation.bytes > binding) {
    const perToken = plan.largestActivation.bytes / (o.B * o.T);
    const tokens = Math.floor(binding / perToken);
    problems.push(`${plan.largestActivation.name} of ${o.B} sequences × ${o.T} tokens takes ${gib(plan.largestActivation.bytes)}, over this adapter's ${gib(binding)} per buffer`);
    advice.push(`at most ${tokens} tokens per micro-batch: --per_device_train_batch_size ${Math.max(1, Math.floor(tokens / (2 * o.T)))} (raise --gradient_accumulation_steps to keep the pairs per step) or --max_length ${Math.floor(tokens / o.B)}`);
  }
  const memory = limits.memoryBytes;
  if (memory !== undefined && plan.total > memory) {
    problems.push(`the run needs about ${gib(plan.total)} of GPU memory (${describe(plan)}), more than the ${gib(memory)} available`);
    let cur: PlanOptions = { ...o };
    let p = plan;
    const step = (next: PlanOptions, what: string): boolean => {
      cur = next;
      p = planMemory(cfg, cur);
      advice.push(`${what}: ${gib(p.total)}`);
      return p.total <= memory;
    };
    let done = false;
    if (!done && cur.mode === 'full-finetune') done = step({ ...cur, mode: 'lora', weights16: true, lora: {} }, 'LoRA (--use_peft, r 16 on every projection) on a bf16/f16 checkpoint, which stays 16-bit');
    if (!done && cur.mode === 'lora' && !cur.weights16) done = step({ ...cur, weights16: true }, 'a bf16/f16 checkpoint for the base (LoRA keeps its matrices 16-bit)');
    if (!done && !cur.gradientCheckpointing) done = step({ ...cur, gradientCheckpointing: true }, '--gradient_checkpointing');
    while (!done && cur.T > 128) done = step({ ...cur, T: Math.ceil(cur.T / 2) }, `--max_length ${Math.ceil(cur.T / 2)}`);
    while (!done && cur.B > 2) done = step({ ...cur, B: 2 * Math.max(1, Math.floor(cur.B / 4)) }, `--per_device_train_batch_size ${Math.max(1, Math.floor(cur.B / 4))} (with --gradient_accumulation_steps ×${Math.round(pairs / Math.max(1, Math.floor(cur.B / 4)))} for the same pairs per step)`);
    if (!done) advice.push(`even then it needs ${gib(p.total)}: the weights alone take ${gib(p.frozenWeights + p.trainableWeights)}`);
  }
  return { ok: problems.length === 0, problems, advice };
}

/** The categories of a plan in a few words, largest first (for messages). */
export function describe(plan: MemoryPlan): string {
  const names: Record<Category, string> = { frozenWeights: 'frozen weights', trainableWeights: 'trainable weights', gradients: 'gradients', optimizer: 'optimizer state', activations: 'activations', logits: 'LM head', workspace: 'workspace' };
  return CATEGORIES.filter((c) => plan[c] > 0)
    .sort((a, b) => plan[b] - plan[a])
    .map((c) => `${names[c]} ${gib(plan[c])}`)
    .join(', ');
}

/** Bytes in binary units (the GiB the limit is stated in). */
export function gib(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  return `${(b / 2 ** 10).toFixed(1)} KiB`;
}

function bytesOf(items: readonly Item[]): number {
  let s = 0;
  for (const x of items) s += x.bytes * x.n;
  return s;
}
