// Gemma-2 config.json: parse, default, validate; and what the config implies about the
// checkpoint (the list of tensors with their shapes, the parameter count).
//
// Source of truth: /work/shared/specs/gemma2-and-formats.md §1.1 (fields, published values) and
// §1.2 (tensor names and shapes), which cite transformers' Gemma2Config (class defaults = the 2B
// model) and modeling_gemma2.py. Both key styles are read:
//   old (transformers 4.4x, the published files)   new (transformers v5)
//   rope_theta: 10000.0                            rope_parameters: {rope_type, rope_theta}
//   (no layer_types: layer i sliding iff i even)   layer_types: ["sliding_attention", ...]
//   torch_dtype                                    dtype
//   sliding_window (+ legacy sliding_window_size on gemma-2-9b/9b-it)
//
// What this file is not: it does not read files or tensors (safetensors.ts, sharded.ts do), and it
// does not know the model's math (gemma2.ts). It is pure TypeScript: browser, Worker and Node.
//
// Dimension letters (src/engine/README.md): V vocab, C hidden_size, FF intermediate_size,
// L layers, NH query heads, KVH key/value heads, HD head_dim.

import { LoadError, loadWhere } from './load_error.ts';

/** Attention type of one decoder layer: local (sliding window) or global. */
export type LayerType = 'sliding' | 'full';

/** The storage dtype config.json announces (informational: each tensor's own dtype rules). */
export type ConfigDtype = 'float32' | 'bfloat16' | 'float16';

/** Everything the model needs from config.json, defaulted and validated. */
export interface Gemma2Config {
  V: number; // vocab_size: rows of embed_tokens (= output logits)
  C: number; // hidden_size: residual width
  FF: number; // intermediate_size: MLP width
  L: number; // num_hidden_layers
  NH: number; // num_attention_heads (query heads)
  KVH: number; // num_key_value_heads (GQA: NH % KVH == 0)
  HD: number; // head_dim (NH·HD need not equal C: 2048 vs 2304 for 2B)
  queryPreAttnScalar: number; // attention scores are scaled by queryPreAttnScalar^-0.5
  attnSoftcap: number | null; // attn_logit_softcapping (50); null = no cap
  finalSoftcap: number | null; // final_logit_softcapping (30); null = no cap
  slidingWindow: number | null; // sliding_window (4096); null only if no layer is sliding
  layerTypes: LayerType[]; // always L entries
  ropeTheta: number; // RoPE base θ (10000)
  rmsNormEps: number; // 1e-6
  hiddenActivation: 'gelu_pytorch_tanh'; // the only activation Gemma-2 uses
  maxPositionEmbeddings: number; // 8192
  tieWordEmbeddings: true; // the output matrix is embed_tokens (untied checkpoints are refused)
  padTokenId: number | null; // 0
  eosTokenIds: number[]; // [1] (2b-it: [1, 107])
  bosTokenId: number | null; // 2
  dtype: ConfigDtype | null; // torch_dtype / dtype, null if absent
  /** Things that were accepted but ignored or inconsistent (for the import report). */
  warnings: string[];
}

type Json = Record<string, unknown>;

// Class defaults of transformers' Gemma2Config (= gemma-2-2b), spec §1.1.
const DEFAULTS = {
  vocab_size: 256000,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  query_pre_attn_scalar: 256,
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  sliding_window: 4096,
  rope_theta: 10000.0,
  rms_norm_eps: 1e-6,
  hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 8192,
  pad_token_id: 0,
  eos_token_id: 1,
  bos_token_id: 2,
} as const;

// RoPE variants transformers knows (modeling_rope_utils); only 'default' is Gemma-2's.
const KNOWN_ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'longrope', 'llama3'];

const UNSUPPORTED_MODEL_HINT =
  'PrefStudio trains Gemma-2 only: import google/gemma-2-2b, gemma-2-2b-it, gemma-2-9b, gemma-2-9b-it or a fine-tune of one of them';

// ---------------------------------------------------------------------------------------------
// small typed readers: each names the file and key on failure

const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));

const FIX_KEY_HINT = 'fix this key, or use the config.json that came with the checkpoint (compare with the published Gemma-2 configs)';

function fail(file: string, key: string | null, message: string, hint = FIX_KEY_HINT): never {
  throw new LoadError(loadWhere(file, key === null ? undefined : `key '${key}'`), message, hint);
}

/** A positive integer (e.g. 2304.0 is fine, 2304.5 and "2304" are not); `def` when absent. */
function posInt(cfg: Json, file: string, key: string, def: number): number {
  const v = cfg[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    fail(file, key, `must be a positive integer, found ${show(v)}`, 'fix or remove the key (see the published Gemma-2 config.json files)');
  }
  return v;
}

/** A positive finite number; `def` when absent. `label` names a nested key in messages. */
function posNum(cfg: Json, file: string, key: string, def: number, label = key): number {
  const v = cfg[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    fail(file, label, `must be a positive number, found ${show(v)}`, 'fix or remove the key (see the published Gemma-2 config.json files)');
  }
  return v;
}

/** A positive number or null (null switches the feature off, as in transformers). */
function posNumOrNull(cfg: Json, file: string, key: string, def: number): number | null {
  return cfg[key] === null ? null : posNum(cfg, file, key, def);
}

/** A token id in [0, V) or null. */
function tokenId(v: unknown, V: number, file: string, key: string): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= V) {
    fail(file, key, `must be a token id in [0, ${V}) (vocab_size), found ${show(v)}`);
  }
  return v;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------

/**
 * Parses a Gemma-2 config.json (already JSON-parsed) into a validated Gemma2Config.
 * Throws LoadError naming `file` and the offending key.
 */
export function parseGemma2Config(json: unknown, file = 'config.json'): Gemma2Config {
  if (!isObject(json)) {
    fail(file, null, `is not a JSON object (found ${Array.isArray(json) ? 'an array' : show(json)})`, 'choose the config.json that comes with the checkpoint');
  }
  const cfg = json;
  const warnings: string[] = [];

  // --- which model is this?
  const modelType = cfg.model_type;
  if (modelType !== 'gemma2') {
    const found = modelType === undefined ? 'no model_type at all' : `model_type ${show(modelType)}`;
    const family =
      modelType === 'gemma' ? ' (a Gemma-1 checkpoint)' :
      typeof modelType === 'string' && modelType.startsWith('gemma3') ? ' (a Gemma-3 checkpoint)' : '';
    fail(file, 'model_type', `expected "gemma2", found ${found}${family}`, UNSUPPORTED_MODEL_HINT);
  }
  const arch = cfg.architectures;
  if (Array.isArray(arch) && !arch.includes('Gemma2ForCausalLM')) {
    warnings.push(`${file}: architectures is ${show(arch)}, not Gemma2ForCausalLM; only the causal-LM tensors are used`);
  }
  if (cfg.quantization_config !== undefined && cfg.quantization_config !== null) {
    fail(file, 'quantization_config', 'the checkpoint is quantized (bitsandbytes / GPTQ / AWQ …), its tensors are not plain F32/BF16/F16', 'import the original, unquantized checkpoint (F32, BF16 or F16 safetensors)');
  }

  // --- sizes
  const V = posInt(cfg, file, 'vocab_size', DEFAULTS.vocab_size);
  const C = posInt(cfg, file, 'hidden_size', DEFAULTS.hidden_size);
  const FF = posInt(cfg, file, 'intermediate_size', DEFAULTS.intermediate_size);
  const L = posInt(cfg, file, 'num_hidden_layers', DEFAULTS.num_hidden_layers);
  const NH = posInt(cfg, file, 'num_attention_heads', DEFAULTS.num_attention_heads);
  const KVH = posInt(cfg, file, 'num_key_value_heads', DEFAULTS.num_key_value_heads);
  const HD = posInt(cfg, file, 'head_dim', DEFAULTS.head_dim);
  if (NH % KVH !== 0) {
    fail(file, 'num_key_value_heads', `num_attention_heads (${NH}) must be a multiple of num_key_value_heads (${KVH}) for grouped-query attention`, 'the config is inconsistent; use the config.json that came with the weights');
  }
  if (HD % 2 !== 0) {
    fail(file, 'head_dim', `must be even (RoPE rotates dimension i with i + head_dim/2), found ${HD}`);
  }

  // --- attention
  const queryPreAttnScalar = posNum(cfg, file, 'query_pre_attn_scalar', DEFAULTS.query_pre_attn_scalar);
  const attnSoftcap = posNumOrNull(cfg, file, 'attn_logit_softcapping', DEFAULTS.attn_logit_softcapping);
  const finalSoftcap = posNumOrNull(cfg, file, 'final_logit_softcapping', DEFAULTS.final_logit_softcapping);
  if (cfg.attention_bias !== undefined && cfg.attention_bias !== false) {
    fail(file, 'attention_bias', `Gemma-2 has no biases, found ${show(cfg.attention_bias)}`, 'set "attention_bias": false (the published checkpoints have no bias tensors)');
  }
  if (cfg.use_bidirectional_attention !== undefined && cfg.use_bidirectional_attention !== null && cfg.use_bidirectional_attention !== false) {
    fail(file, 'use_bidirectional_attention', `PrefStudio's Gemma-2 is causal, found ${show(cfg.use_bidirectional_attention)}`, 'use a causal-LM checkpoint (no use_bidirectional_attention)');
  }
  if (typeof cfg.attention_dropout === 'number' && cfg.attention_dropout !== 0) {
    warnings.push(`${file}: attention_dropout ${cfg.attention_dropout} is ignored (PrefStudio applies no attention dropout)`);
  }

  // --- layer types: new style list, or the default pattern (layer i sliding iff i is even)
  let layerTypes: LayerType[];
  if (cfg.layer_types === undefined || cfg.layer_types === null) {
    layerTypes = Array.from({ length: L }, (_, i) => (i % 2 === 0 ? 'sliding' : 'full'));
  } else {
    const lt = cfg.layer_types;
    if (!Array.isArray(lt) || lt.length !== L) {
      fail(file, 'layer_types', `must be a list of num_hidden_layers (${L}) entries, found ${Array.isArray(lt) ? `${lt.length} entries` : show(lt)}`, 'fix the list or remove it (the default is: even layers sliding, odd layers full)');
    }
    layerTypes = lt.map((t, i) => {
      if (t === 'sliding_attention') return 'sliding';
      if (t === 'full_attention') return 'full';
      return fail(file, 'layer_types', `entry ${i} must be "sliding_attention" or "full_attention", found ${show(t)}`);
    });
  }

  // --- sliding window: sliding_window, else the legacy sliding_window_size, else 4096
  let slidingWindow: number | null;
  if (cfg.sliding_window === null) {
    slidingWindow = null;
  } else if (cfg.sliding_window !== undefined) {
    slidingWindow = posInt(cfg, file, 'sliding_window', DEFAULTS.sliding_window);
    if (cfg.sliding_window_size !== undefined && cfg.sliding_window_size !== slidingWindow) {
      warnings.push(`${file}: legacy sliding_window_size ${show(cfg.sliding_window_size)} differs from sliding_window ${slidingWindow}; using sliding_window (as transformers does)`);
    }
  } else {
    slidingWindow = posInt(cfg, file, 'sliding_window_size', DEFAULTS.sliding_window);
  }
  if (slidingWindow === null && layerTypes.includes('sliding')) {
    fail(file, 'sliding_window', `is null but layer ${layerTypes.indexOf('sliding')} is a sliding-window layer`, 'set "sliding_window": 4096 (the Gemma-2 value)');
  }

  // --- RoPE: rope_parameters {rope_type, rope_theta} (new) or rope_theta (+ rope_scaling) (old)
  let ropeTheta = posNum(cfg, file, 'rope_theta', DEFAULTS.rope_theta);
  const checkRopeType = (key: string, params: Json): void => {
    const type = params.rope_type ?? params.type ?? 'default';
    if (type === 'default') return;
    const what = typeof type === 'string' && KNOWN_ROPE_TYPES.includes(type) ? `RoPE scaling ${show(type)} is not supported` : `unknown rope_type ${show(type)}`;
    fail(file, key, `${what}: Gemma-2 uses plain RoPE (rope_type "default")`, `known rope types are ${KNOWN_ROPE_TYPES.join(', ')}; PrefStudio implements only "default" (θ = rope_theta), as in every published Gemma-2 checkpoint — import an unmodified checkpoint`);
  };
  const rp = cfg.rope_parameters;
  if (rp !== undefined && rp !== null) {
    if (!isObject(rp)) fail(file, 'rope_parameters', `must be an object like {"rope_type": "default", "rope_theta": 10000.0}, found ${show(rp)}`);
    const nested = Object.keys(rp).find((k) => isObject(rp[k]));
    if (nested !== undefined) {
      fail(file, 'rope_parameters', `has per-layer-type parameters ("${nested}": {...}), which Gemma-2 does not use`, 'use {"rope_type": "default", "rope_theta": 10000.0}');
    }
    checkRopeType('rope_parameters', rp);
    if (rp.rope_theta !== undefined) ropeTheta = posNum(rp, file, 'rope_theta', ropeTheta, 'rope_parameters.rope_theta');
  }
  const rs = cfg.rope_scaling;
  if (rs !== undefined && rs !== null) {
    if (!isObject(rs)) fail(file, 'rope_scaling', `must be null or an object, found ${show(rs)}`);
    checkRopeType('rope_scaling', rs);
  }

  // --- the rest
  const rmsNormEps = posNum(cfg, file, 'rms_norm_eps', DEFAULTS.rms_norm_eps);
  const maxPositionEmbeddings = posInt(cfg, file, 'max_position_embeddings', DEFAULTS.max_position_embeddings);

  // Gemma2 reads hidden_activation; hidden_act is a leftover that transformers ignores.
  const act = cfg.hidden_activation === undefined ? DEFAULTS.hidden_activation : cfg.hidden_activation;
  if (act !== 'gelu_pytorch_tanh') {
    fail(file, 'hidden_activation', `must be "gelu_pytorch_tanh" (tanh-approximated GELU), found ${show(act)}`, 'Gemma-2 uses gelu_pytorch_tanh; set "hidden_activation": "gelu_pytorch_tanh"');
  }
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== act) {
    warnings.push(`${file}: hidden_act ${show(cfg.hidden_act)} is ignored; Gemma-2 uses hidden_activation "${act}"`);
  }

  if (cfg.tie_word_embeddings !== undefined && cfg.tie_word_embeddings !== true) {
    fail(file, 'tie_word_embeddings', `must be true (Gemma-2 uses embed_tokens as its output matrix), found ${show(cfg.tie_word_embeddings)}`, 'untied Gemma-2 checkpoints (a separate lm_head.weight) are not supported');
  }

  const padTokenId = tokenId(cfg.pad_token_id === undefined ? DEFAULTS.pad_token_id : cfg.pad_token_id, V, file, 'pad_token_id');
  const bosTokenId = tokenId(cfg.bos_token_id === undefined ? DEFAULTS.bos_token_id : cfg.bos_token_id, V, file, 'bos_token_id');
  const eosRaw = cfg.eos_token_id === undefined ? DEFAULTS.eos_token_id : cfg.eos_token_id;
  const eosList = eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  const eosTokenIds = eosList.map((id) => {
    const t = tokenId(id, V, file, 'eos_token_id');
    if (t === null) fail(file, 'eos_token_id', 'list entries must be token ids, found null');
    return t;
  });

  // torch_dtype (old) / dtype (new): what the shards are stored in. Informational only.
  const dtypeKey = cfg.dtype !== undefined && cfg.dtype !== null ? 'dtype' : 'torch_dtype';
  const dtypeRaw = cfg[dtypeKey];
  let dtype: ConfigDtype | null = null;
  if (dtypeRaw !== undefined && dtypeRaw !== null) {
    if (dtypeRaw !== 'float32' && dtypeRaw !== 'bfloat16' && dtypeRaw !== 'float16') {
      fail(file, dtypeKey, `must be "float32", "bfloat16" or "float16", found ${show(dtypeRaw)}`, 'PrefStudio reads F32, BF16 and F16 checkpoints; convert the weights to one of these');
    }
    dtype = dtypeRaw;
  }

  return {
    V, C, FF, L, NH, KVH, HD,
    queryPreAttnScalar, attnSoftcap, finalSoftcap, slidingWindow, layerTypes,
    ropeTheta, rmsNormEps, hiddenActivation: 'gelu_pytorch_tanh', maxPositionEmbeddings,
    tieWordEmbeddings: true, padTokenId, eosTokenIds, bosTokenId, dtype, warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// what the config implies about the checkpoint (spec §1.2)

/** One parameter tensor as stored in the safetensors files. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

/**
 * The 1 + 11·L + 1 tensors of a Gemma-2 checkpoint, in state-dict order (module registration
 * order in modeling_gemma2.py, which is how transformers fills shards). No lm_head.weight: it is
 * tied to model.embed_tokens.weight and transformers does not save it.
 */
export function expectedTensors(cfg: Gemma2Config): TensorSpec[] {
  const { V, C, FF, L, NH, KVH, HD } = cfg;
  const out: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, C] }];
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [NH * HD, C] }, // nn.Linear stores [out, in]
      { name: `${p}self_attn.k_proj.weight`, shape: [KVH * HD, C] },
      { name: `${p}self_attn.v_proj.weight`, shape: [KVH * HD, C] },
      { name: `${p}self_attn.o_proj.weight`, shape: [C, NH * HD] },
      { name: `${p}mlp.gate_proj.weight`, shape: [FF, C] },
      { name: `${p}mlp.up_proj.weight`, shape: [FF, C] },
      { name: `${p}mlp.down_proj.weight`, shape: [C, FF] },
      { name: `${p}input_layernorm.weight`, shape: [C] }, // RMSNorm weights are used as (1 + w)
      { name: `${p}post_attention_layernorm.weight`, shape: [C] },
      { name: `${p}pre_feedforward_layernorm.weight`, shape: [C] },
      { name: `${p}post_feedforward_layernorm.weight`, shape: [C] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [C] });
  return out;
}

/** Number of parameters (2,614,341,888 for gemma-2-2b; 9,241,705,984 for 9b). Exact below 2^53. */
export function parameterCount(cfg: Gemma2Config): number {
  let n = 0;
  for (const t of expectedTensors(cfg)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Which config fields determine a tensor's shape (for "expected shape" error messages). */
export function shapeSource(cfg: Gemma2Config, name: string): string {
  const { V, C, FF, NH, KVH, HD } = cfg;
  if (name.endsWith('embed_tokens.weight')) return `vocab_size ${V}, hidden_size ${C}`;
  if (/q_proj|o_proj/.test(name)) return `num_attention_heads ${NH} × head_dim ${HD}, hidden_size ${C}`;
  if (/k_proj|v_proj/.test(name)) return `num_key_value_heads ${KVH} × head_dim ${HD}, hidden_size ${C}`;
  if (/mlp\./.test(name)) return `intermediate_size ${FF}, hidden_size ${C}`;
  return `hidden_size ${C}`;
}
