// PEFT LoRA adapter files: the folder `PeftModel.from_pretrained(base, DIR)` loads, written from an
// adapter and read back (to evaluate it, continue training it, or merge it into a checkpoint).
//
//   adapter_model.safetensors   every factor under PEFT's key (lora.ts peftKey), A (r, in) and
//                               B (out, r), F32 unless asked otherwise, metadata {"format": "pt"}
//   adapter_config.json         LoraConfig's fields (peft/tuners/lora/config.py) and PeftConfig's
//                               (peft/config.py), sorted and indented as PEFT's save_pretrained
//                               writes them (json.dumps(indent=2, sort_keys=True))
//
//   readAdapterF32(ad)                      the factors of a GPU adapter as host f32 arrays
//   encodePeftAdapter(host, opts)           → the two files, as ExportedFile (export.ts)
//   openPeftAdapter(source, cfg)            the two files (a folder, dropped files, bytes) → a host
//                                           adapter checked against the base model's config: every
//                                           key, shape and setting, or an error naming the key/field
//                                           and what to do. Accepts PEFT's variants: target_modules
//                                           as a list (exact or suffix match), a regex string or
//                                           'all-linear'; layers_to_transform; exclude_modules;
//                                           keys with or without the adapter name (`.default`);
//                                           factors in F32/BF16/F16. Refuses what would change the
//                                           model in ways the engine does not compute (DoRA, biases,
//                                           modules_to_save, rank/alpha patterns, PiSSA/OLoRA …).
//   uploadAdapter(e, host, opts)            a host adapter → GPU tensors (a LoraAdapter)
//   mergeFactors(W, f, scale, out, in)      W + scale·B·A in float64, rounded once to f32
//   loraTargetOfWeight(name)                the (layer, target) a base weight name is adapted by
//
// Everything here works from bytes (Node and browser). Writing a folder in Node:
// export_node.ts writeCheckpointDir (temp folder + rename). Merging into a whole checkpoint:
// export.ts checkpointTensors(ckpt, adapter).

import type { Engine } from '../engine.ts';
import { EngineError, LoadError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../util/halfs.ts';
import { expectedTensors, type Gemma2Config } from './config.ts';
import type { ExportDtype, ExportedFile } from './export.ts';
import { readJsonFile, type CheckpointSource } from './load.ts';
import { LORA_TARGETS, TARGET_FIELDS, loraScale, peftKey, type LoraAdapter, type LoraConfig, type LoraTarget } from './lora.ts';
import { firstNonFinite, readSafetensorsHeader, toFloat32, writeSafetensors, type Dtype } from './safetensors.ts';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/**
 * The fields of PEFT's adapter_config.json for LoRA, with where each comes from. Read from the PEFT
 * source (github.com/huggingface/peft): src/peft/tuners/lora/config.py at commit 00a4d0808579
 * (LoraConfig; `runtime_config` is popped by its to_dict and never saved), src/peft/config.py at
 * commit 0397041dcf4e (PeftConfigMixin: task_type, peft_type, auto_mapping; PeftConfig:
 * base_model_name_or_path, revision, inference_mode), and the keys PEFT 0.18 writes besides
 * (an adapter_config.json saved by peft 0.18.0: lora_bias, use_qalora, qalora_group_size,
 * target_parameters, trainable_token_indices, eva_config, corda_config, alora_invocation_tokens,
 * arrow_config, ensure_weight_tying, peft_version). The reader knows every one of them; the writer
 * writes a subset that PEFT ≥ 0.9 accepts as constructor arguments (older PEFT raised on unknown
 * keys, newer versions drop them with a warning).
 */
export const PEFT_LORA_FIELDS = {
  peftConfig: ['task_type', 'peft_type', 'auto_mapping', 'base_model_name_or_path', 'revision', 'inference_mode'],
  loraConfig: [
    'r', 'target_modules', 'exclude_modules', 'lora_alpha', 'lora_dropout', 'fan_in_fan_out', 'bias', 'use_rslora', 'modules_to_save',
    'init_lora_weights', 'layers_to_transform', 'layers_pattern', 'rank_pattern', 'alpha_pattern', 'megatron_config', 'megatron_core',
    'loftq_config', 'use_dora', 'layer_replication',
  ],
  peft018: ['lora_bias', 'use_qalora', 'qalora_group_size', 'target_parameters', 'trainable_token_indices', 'eva_config', 'corda_config', 'alora_invocation_tokens', 'arrow_config', 'ensure_weight_tying', 'peft_version'],
} as const;

/** One adapted layer's factors on the host: A (r, in) and B (out, r), row-major f32. */
export interface HostLoraFactors {
  A: Float32Array;
  B: Float32Array;
}

/** An adapter's settings and factors in host memory (what the files hold). */
export interface HostLoraAdapter {
  config: LoraConfig;
  /** Per base-model layer, the factors of each adapted module (absent: not adapted). */
  layers: Partial<Record<LoraTarget, HostLoraFactors>>[];
}

/** The HF name of the base weight a target adapts in layer i. */
export const baseWeightName = (i: number, t: LoraTarget): string => `model.layers.${i}.${TARGET_FIELDS[t].module}.${t}.weight`;

/** Which (layer, target) adapts the base weight `name` (model.layers.N.self_attn.q_proj.weight), or null. */
export function loraTargetOfWeight(name: string): { layer: number; target: LoraTarget } | null {
  const m = /^model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.weight$/.exec(name);
  if (!m) return null;
  const target = m[3] as LoraTarget;
  if (!(LORA_TARGETS as readonly string[]).includes(target) || TARGET_FIELDS[target].module !== m[2]) return null;
  return { layer: Number(m[1]), target };
}

// ---------------------------------------------------------------------------------------------
// GPU ↔ host

/** The factors of a GPU adapter as host f32 arrays (one read per tensor). */
export async function readAdapterF32(ad: LoraAdapter): Promise<HostLoraAdapter> {
  const layers: HostLoraAdapter['layers'] = [];
  for (const layer of ad.layers) {
    const out: Partial<Record<LoraTarget, HostLoraFactors>> = {};
    for (const t of LORA_TARGETS) {
      const f = layer[t];
      if (f) out[t] = { A: await f.A.readF32(), B: await f.B.readF32() };
    }
    layers.push(out);
  }
  return { config: { ...ad.config, targets: [...ad.config.targets] }, layers };
}

/**
 * A host adapter on the GPU: f32 tensors labelled with their PEFT keys, trainable (requiresGrad) when
 * asked (continuing training), enabled.
 */
export function uploadAdapter(e: Engine, host: HostLoraAdapter, opts: { trainable?: boolean } = {}): LoraAdapter {
  const made: Tensor[] = [];
  try {
    const layers = host.layers.map((layer, i) => {
      const out: LoraAdapter['layers'][number] = {};
      for (const t of LORA_TARGETS) {
        const f = layer[t];
        if (!f) continue;
        const r = host.config.r;
        const A = e.keep(e.tensor(f.A, [r, f.A.length / r], { label: peftKey(i, t, 'A'), requiresGrad: opts.trainable ?? false }));
        made.push(A);
        const B = e.keep(e.tensor(f.B, [f.B.length / r, r], { label: peftKey(i, t, 'B'), requiresGrad: opts.trainable ?? false }));
        made.push(B);
        out[t] = { A, B };
      }
      return out;
    });
    return { config: { ...host.config, targets: [...host.config.targets] }, scale: loraScale(host.config), layers, enabled: true };
  } catch (err) {
    made.forEach((t) => t.dispose());
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// merging

/**
 * W + scale·B·A for one weight W (out, in), B (out, r), A (r, in): each element accumulated in
 * float64 (W's value first, then the r products) and rounded once to f32. A new array.
 */
export function mergeFactors(W: Float32Array, f: HostLoraFactors, scale: number, out: number, inn: number): Float32Array {
  const r = f.A.length / inn;
  if (W.length !== out * inn || f.B.length !== out * r || !Number.isInteger(r)) {
    throw new EngineError('mergeFactors', `W has ${W.length} values for (${out}, ${inn}), A ${f.A.length}, B ${f.B.length}: not (out, in), (r, in), (out, r)`);
  }
  const res = new Float32Array(W.length);
  const row = new Float64Array(inn);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inn; i++) row[i] = W[o * inn + i];
    for (let k = 0; k < r; k++) {
      const b = scale * f.B[o * r + k];
      if (b === 0) continue;
      const a0 = k * inn;
      for (let i = 0; i < inn; i++) row[i] += b * f.A[a0 + i];
    }
    for (let i = 0; i < inn; i++) res[o * inn + i] = row[i];
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// writing

export interface PeftWriteOptions {
  /** base_model_name_or_path: the base model's folder or hub id (default null). */
  baseModel?: string | null;
  /** dtype of the factors in adapter_model.safetensors (default f32). */
  dtype?: ExportDtype;
}

const ST_DTYPE: Record<ExportDtype, Dtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };

/**
 * Which modules carry factors, as target_modules (+ layers_to_transform) says it: the list of
 * targets when every adapted layer has the same ones (layers_to_transform when not every layer is
 * adapted), else a regular expression matching exactly the adapted modules (PEFT full-matches a
 * string against each module's name).
 */
function targetSpec(host: HostLoraAdapter): { target_modules: string[] | string; layers_to_transform: number[] | null } {
  const sets = host.layers.map((l) => LORA_TARGETS.filter((t) => l[t]));
  const adapted = sets.map((s, i) => (s.length ? i : -1)).filter((i) => i >= 0);
  if (adapted.length === 0) throw new EngineError('encodePeftAdapter', 'the adapter has no factors', 'create the adapter with at least one target module');
  const first = sets[adapted[0]].join(',');
  if (adapted.every((i) => sets[i].join(',') === first)) {
    return { target_modules: sets[adapted[0]], layers_to_transform: adapted.length === host.layers.length ? null : adapted };
  }
  const names = sets.flatMap((s, i) => s.map((t) => `model\\.layers\\.${i}\\.${TARGET_FIELDS[t].module}\\.${t}`));
  return { target_modules: `(?:${names.join('|')})`, layers_to_transform: null };
}

/** adapter_config.json's object, as PEFT's save_pretrained writes it for this adapter. */
export function adapterConfigObject(host: HostLoraAdapter, opts: PeftWriteOptions = {}): Record<string, unknown> {
  const c = host.config;
  const spec = targetSpec(host);
  const obj: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: opts.baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true, // save_pretrained saves the config in inference mode
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: spec.layers_to_transform,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: spec.target_modules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: c.useRslora,
  };
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

/** The adapter's two files (adapter_model.safetensors, adapter_config.json). */
export function encodePeftAdapter(host: HostLoraAdapter, opts: PeftWriteOptions = {}): ExportedFile[] {
  const dtype = ST_DTYPE[opts.dtype ?? 'f32'];
  const r = host.config.r;
  const tensors = host.layers.flatMap((layer, i) =>
    LORA_TARGETS.flatMap((t) => {
      const f = layer[t];
      if (!f) return [];
      return (['A', 'B'] as const).map((which) => {
        const v = f[which];
        const key = peftKey(i, t, which);
        const bad = firstNonFinite('F32', new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (bad >= 0) throw new EngineError('encodePeftAdapter', `factor '${key}' element ${bad} is ${v[bad]}: an adapter's weights must be finite`, 'the training diverged: save an earlier checkpoint, or lower the learning rate');
        const shape = which === 'A' ? [r, v.length / r] : [v.length / r, r];
        const data = dtype === 'F32' ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array((dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits)(v).buffer);
        if (dtype === 'F16' && firstNonFinite('F16', data) >= 0) throw new EngineError('encodePeftAdapter', `factor '${key}' has values beyond float16's range (±65504)`, "write the adapter as 'f32' or 'bf16'");
        return { name: key, dtype, shape, data };
      });
    }),
  );
  const weights = writeSafetensors(tensors);
  const config = new TextEncoder().encode(`${JSON.stringify(adapterConfigObject(host, opts), null, 2)}\n`);
  return [
    { path: ADAPTER_WEIGHTS_FILE, parts: [weights], size: weights.length },
    { path: ADAPTER_CONFIG_FILE, parts: [config], size: config.length },
  ];
}

// ---------------------------------------------------------------------------------------------
// reading

export interface OpenedPeftAdapter {
  adapter: HostLoraAdapter;
  /** base_model_name_or_path as written (null when absent). */
  baseModel: string | null;
  /** Keys accepted but not used (a newer PEFT's fields left at their defaults are not listed). */
  warnings: string[];
}

/** What a field's value must be for the engine to compute the adapter as PEFT does. */
const MUST_BE_OFF: Record<string, { off: (v: unknown) => boolean; why: string }> = {
  use_dora: { off: (v) => v === false || v == null, why: 'DoRA (use_dora) adds a learned magnitude vector per module, which the engine does not compute' },
  bias: { off: (v) => v === 'none' || v == null, why: "the adapter trains biases (bias != 'none'); Gemma-2's projections have none and the engine trains only the LoRA factors" },
  lora_bias: { off: (v) => v === false || v == null, why: 'the adapter has a bias on lora_B (lora_bias), which the engine does not compute' },
  modules_to_save: { off: (v) => v == null || (Array.isArray(v) && v.length === 0), why: 'the adapter saves whole copies of modules (modules_to_save), which the engine does not load' },
  rank_pattern: { off: isEmptyObject, why: 'ranks differ per module (rank_pattern)' },
  alpha_pattern: { off: isEmptyObject, why: 'alphas differ per module (alpha_pattern)' },
  fan_in_fan_out: { off: (v) => v === false || v == null, why: 'fan_in_fan_out stores weights transposed (GPT-2 Conv1D); Gemma-2 uses nn.Linear' },
  layer_replication: { off: (v) => v == null, why: 'layer_replication stacks copies of the base layers' },
  megatron_config: { off: (v) => v == null, why: 'the adapter is for Megatron parallel layers (megatron_config)' },
  use_qalora: { off: (v) => v === false || v == null, why: 'QALoRA (use_qalora) pools the input by groups' },
  trainable_token_indices: { off: (v) => v == null, why: 'the adapter trains embedding rows (trainable_token_indices)' },
  target_parameters: { off: (v) => v == null || (Array.isArray(v) && v.length === 0), why: 'the adapter targets parameters, not modules (target_parameters)' },
  alora_invocation_tokens: { off: (v) => v == null, why: 'activated LoRA (alora_invocation_tokens) applies only after given tokens' },
  arrow_config: { off: (v) => v == null, why: 'Arrow routing (arrow_config) mixes several adapters' },
};

function isEmptyObject(v: unknown): boolean {
  return v == null || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
}

const KNOWN_FIELDS = new Set<string>([...PEFT_LORA_FIELDS.peftConfig, ...PEFT_LORA_FIELDS.loraConfig, ...PEFT_LORA_FIELDS.peft018, 'runtime_config']);

/** The LoraConfig and the modules an adapter_config.json targets in a model of `cfg`'s shape. */
export function parseAdapterConfig(json: unknown, cfg: Gemma2Config, file = ADAPTER_CONFIG_FILE): { config: LoraConfig; modules: { layer: number; target: LoraTarget }[]; baseModel: string | null; warnings: string[] } {
  const fail = (field: string, what: string, hint: string): never => {
    throw new LoadError(`${file}, field '${field}'`, what, hint);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LoadError(file, 'is not a JSON object', `give the ${ADAPTER_CONFIG_FILE} PEFT saved with the adapter`);
  const j = json as Record<string, unknown>;
  const MERGE_HINT = 'merge the adapter into the base model in Python (PeftModel.merge_and_unload(), then save_pretrained) and import that checkpoint instead';
  if (j.peft_type !== 'LORA') fail('peft_type', `is ${JSON.stringify(j.peft_type)}; PrefStudio reads LoRA adapters ("LORA") only`, MERGE_HINT);
  if (j.task_type != null && j.task_type !== 'CAUSAL_LM') fail('task_type', `is ${JSON.stringify(j.task_type)}; PrefStudio adapts causal language models ("CAUSAL_LM")`, 'use an adapter trained for causal LM (AutoModelForCausalLM)');
  for (const [k, rule] of Object.entries(MUST_BE_OFF)) {
    if (!rule.off(j[k])) fail(k, `is ${JSON.stringify(j[k])}: ${rule.why}`, MERGE_HINT);
  }
  const init = j.init_lora_weights;
  if (typeof init === 'string' && /^(pissa|olora|corda)/.test(init)) {
    fail('init_lora_weights', `is "${init}": such adapters are trained against modified base weights, not the checkpoint's`, 'save it with path_initial_model_for_weight_conversion (PEFT converts it to a plain LoRA) or merge it in Python');
  }
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) fail('r', `is ${JSON.stringify(r)}; the rank must be a positive integer`, `fix ${file}`);
  const alpha = j.lora_alpha ?? 8; // LoraConfig's default
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail('lora_alpha', `is ${JSON.stringify(alpha)}; it must be a number`, `fix ${file}`);
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail('lora_dropout', `is ${JSON.stringify(dropout)}; it must be in [0, 1)`, `fix ${file}`);
  const rs = j.use_rslora ?? false;
  if (typeof rs !== 'boolean') fail('use_rslora', `is ${JSON.stringify(rs)}; it must be true or false`, `fix ${file}`);

  // Which modules: PEFT matches target_modules against every module name of the base model
  // (model.layers.N.self_attn.q_proj …): a string as a full regex match ('all-linear': every linear
  // layer but the output head), a list by exact name or name suffix after a dot.
  const candidates = Array.from({ length: cfg.L }, (_, i) => LORA_TARGETS.map((t) => ({ layer: i, target: t, name: `model.layers.${i}.${TARGET_FIELDS[t].module}.${t}` }))).flat();
  const matcher = (field: string, v: unknown): ((name: string) => boolean) | null => {
    if (v == null) return null;
    if (v === 'all-linear') return () => true;
    if (typeof v === 'string') {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${v})$`);
      } catch (e) {
        return fail(field, `is the pattern ${JSON.stringify(v)}, which is not a valid regular expression here (${(e as Error).message})`, 'list the module names instead: ["q_proj", "v_proj", …]');
      }
      return (name) => re.test(name);
    }
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) {
      const list = v as string[];
      if (field === 'target_modules') {
        const unknown = list.filter((s) => !candidates.some((c) => c.name === s || c.name.endsWith(`.${s}`)));
        if (unknown.length) fail(field, `names ${unknown.map((s) => `'${s}'`).join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} not among Gemma-2's adaptable projections (${LORA_TARGETS.join(', ')})`, 'PrefStudio adapts the attention and MLP projections only; embed_tokens / lm_head adapters must be merged in Python first');
      }
      return (name) => list.some((s) => name === s || name.endsWith(`.${s}`));
    }
    return fail(field, `is ${JSON.stringify(v)}; PEFT takes a list of module names or one regular expression`, `fix ${file}`);
  };
  const target = matcher('target_modules', j.target_modules);
  if (!target) fail('target_modules', 'is missing or null (PEFT would pick modules from its built-in table for the architecture)', 'write the list of adapted modules, e.g. ["q_proj", "k_proj", "v_proj", "o_proj"]');
  const exclude = matcher('exclude_modules', j.exclude_modules);
  let layersToTransform: Set<number> | null = null;
  const ltt = j.layers_to_transform;
  if (ltt != null) {
    const list = typeof ltt === 'number' ? [ltt] : ltt;
    if (!Array.isArray(list) || !list.every((n) => Number.isInteger(n))) fail('layers_to_transform', `is ${JSON.stringify(ltt)}; it must be a layer index or a list of them`, `fix ${file}`);
    const bad = (list as number[]).filter((n) => n < 0 || n >= cfg.L);
    if (bad.length) fail('layers_to_transform', `names layer${bad.length > 1 ? 's' : ''} ${bad.join(', ')}, but the base model has ${cfg.L} layers (0…${cfg.L - 1})`, 'use the adapter with the base model it was trained on');
    layersToTransform = new Set(list as number[]);
  }
  const modules = candidates.filter((c) => target!(c.name) && !exclude?.(c.name) && (!layersToTransform || layersToTransform.has(c.layer))).map(({ layer, target: t }) => ({ layer, target: t }));
  if (modules.length === 0) fail('target_modules', `${JSON.stringify(j.target_modules)} matches none of the base model's projections`, 'use the adapter with the base model it was trained on');

  const warnings: string[] = [];
  for (const [k, v] of Object.entries(j)) {
    if (!KNOWN_FIELDS.has(k) && v != null && v !== false && !isEmptyObject(v)) warnings.push(`${file}: field '${k}' (${JSON.stringify(v)}) is not a LoRA setting PrefStudio knows; ignored`);
  }
  const targets = LORA_TARGETS.filter((t) => modules.some((m) => m.target === t));
  const baseModel = typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : null;
  return { config: { r: r as number, alpha: alpha as number, dropout: dropout as number, targets, useRslora: rs as boolean }, modules, baseModel, warnings };
}

/** A tensor key with PEFT's adapter name removed: …lora_A.default.weight → …lora_A.weight. */
function canonicalKey(key: string): string {
  return key.replace(/\.(lora_[AB])\.[^.]+\.weight$/, '.$1.weight');
}

/**
 * Reads a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors among `source`'s
 * files) and checks it against the base model's config.json: every targeted module has both
 * factors with the shapes the base model implies, nothing else is in the file, values are finite.
 * Throws a LoadError naming the file and key or field, and what to do.
 */
export async function openPeftAdapter(source: CheckpointSource, cfg: Gemma2Config): Promise<OpenedPeftAdapter> {
  const label = source.name ?? 'the adapter folder';
  const byName = new Map(source.files.map((f) => [f.name, f]));
  const cfgFile = byName.get(ADAPTER_CONFIG_FILE);
  const wFile = byName.get(ADAPTER_WEIGHTS_FILE);
  if (!cfgFile || !wFile) {
    const given = source.files.map((f) => f.name).join(', ') || 'no files';
    const bin = byName.has('adapter_model.bin');
    throw new LoadError(label, `needs ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE} (given: ${given})`, bin ? 'this adapter was saved as a PyTorch .bin: save it again with save_pretrained(..., safe_serialization=True)' : 'give the folder PEFT wrote with save_pretrained');
  }
  const { json } = await readJsonFile(cfgFile);
  const where = (k: string) => `${label}/${ADAPTER_WEIGHTS_FILE}, tensor '${k}'`;
  const parsed = parseAdapterConfig(json, cfg, `${label}/${ADAPTER_CONFIG_FILE}`);
  const { config, modules } = parsed;
  const header = await readSafetensorsHeader(wFile.read, wFile.size, `${label}/${ADAPTER_WEIGHTS_FILE}`);

  const expected = new Map<string, { layer: number; target: LoraTarget; which: 'A' | 'B'; shape: number[] }>();
  const shapes = new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));
  for (const m of modules) {
    const [out, inn] = shapes.get(baseWeightName(m.layer, m.target))!;
    expected.set(peftKey(m.layer, m.target, 'A'), { ...m, which: 'A', shape: [config.r, inn] });
    expected.set(peftKey(m.layer, m.target, 'B'), { ...m, which: 'B', shape: [out, config.r] });
  }
  const layers: HostLoraAdapter['layers'] = Array.from({ length: cfg.L }, () => ({}));
  const seen = new Set<string>();
  for (const t of header.tensors) {
    const key = canonicalKey(t.name);
    const want = expected.get(key);
    if (!want) {
      const what = /lora_magnitude_vector/.test(t.name)
        ? 'is a DoRA magnitude vector, which the engine does not compute'
        : /modules_to_save|embed_tokens|lm_head/.test(t.name)
          ? 'is a saved copy of a base module, which the engine does not load'
          : /lora_[AB]/.test(t.name)
            ? `is a LoRA factor of a module adapter_config.json does not target (target_modules ${JSON.stringify((json as Record<string, unknown>).target_modules)}) or of a layer the base model (${cfg.L} layers) does not have`
            : 'is not a LoRA factor PEFT writes for Gemma-2 (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight …)';
      throw new LoadError(where(t.name), what, 'use an adapter trained with PEFT LoRA on this base model, or merge it in Python (merge_and_unload) and import the merged checkpoint');
    }
    if (seen.has(key)) throw new LoadError(where(t.name), `appears twice (with and without the adapter name)`, 'save the adapter again with save_pretrained');
    seen.add(key);
    if (t.dtype !== 'F32' && t.dtype !== 'BF16' && t.dtype !== 'F16') throw new LoadError(where(t.name), `is ${t.dtype}; adapter factors must be F32, BF16 or F16`, 'save the adapter in float32, bfloat16 or float16');
    if (t.shape.length !== 2 || t.shape[0] !== want.shape[0] || t.shape[1] !== want.shape[1]) {
      throw new LoadError(where(t.name), `has shape ${fmtShape(t.shape)} but r = ${config.r} and the base model's ${baseWeightName(want.layer, want.target)} ${fmtShape(shapes.get(baseWeightName(want.layer, want.target))!)} imply ${fmtShape(want.shape)}`, 'use the adapter with the base model it was trained on (and the adapter_config.json saved with it)');
    }
    const bytes = await wFile.read(header.dataStart + t.begin, t.end - t.begin);
    if (bytes.length !== t.end - t.begin) throw new LoadError(where(t.name), `reading it returned ${bytes.length} of ${t.end - t.begin} bytes`, 'the file is truncated: copy it again');
    const bad = firstNonFinite(t.dtype, bytes);
    if (bad >= 0) throw new LoadError(where(t.name), `element ${bad} is not finite`, 'the adapter comes from a diverged run: use an earlier checkpoint');
    const slot = (layers[want.layer][want.target] ??= { A: new Float32Array(0), B: new Float32Array(0) });
    slot[want.which] = toFloat32(t.dtype, bytes); // a copy, aligned
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  if (missing.length) {
    throw new LoadError(where(missing[0]), `is missing${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}: adapter_config.json targets this module but the file has no such factor`, 'the adapter_config.json does not belong to these weights: use the pair PEFT saved together');
  }
  return { adapter: { config, layers }, baseModel: parsed.baseModel, warnings: parsed.warnings };
}
