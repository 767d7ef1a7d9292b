// config.ts against the published Gemma-2 configs (e2e/fixtures/configs, values from spec §1.1) and
// the parameter counts of spec §1.3; then one test per malformed config with its expected message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectLoadError } from './expect_load_error.ts';
import { expectedTensors, parameterCount, parseGemma2Config, type Gemma2Config } from './config.ts';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../../e2e/fixtures/configs', name), 'utf8')) as Record<string, unknown>;

const twoB = fixture('gemma-2-2b.config.json');
const twoBit = fixture('gemma-2-2b-it.config.json');
const nineBit = fixture('gemma-2-9b-it.config.json');
const nineBitV5 = fixture('gemma-2-9b-it.v5.config.json');


/** A 2B config with some keys replaced (undefined deletes the key). */
function with2b(patch: Record<string, unknown>): Record<string, unknown> {
  const c: Record<string, unknown> = { ...twoB, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete c[k];
  return c;
}

describe('parseGemma2Config: published configs', () => {
  it('gemma-2-2b: sizes, defaults, 288 tensors, 2,614,341,888 parameters', () => {
    const cfg = parseGemma2Config(twoB);
    expect(cfg).toMatchObject({
      V: 256000, C: 2304, FF: 9216, L: 26, NH: 8, KVH: 4, HD: 256,
      queryPreAttnScalar: 256, attnSoftcap: 50, finalSoftcap: 30, slidingWindow: 4096,
      ropeTheta: 10000, rmsNormEps: 1e-6, hiddenActivation: 'gelu_pytorch_tanh', maxPositionEmbeddings: 8192,
      tieWordEmbeddings: true, padTokenId: 0, eosTokenIds: [1], bosTokenId: 2, dtype: 'float32', warnings: [],
    } satisfies Partial<Gemma2Config>);
    expect(cfg.layerTypes).toHaveLength(26);
    expect(cfg.layerTypes.slice(0, 4)).toEqual(['sliding', 'full', 'sliding', 'full']); // even layers slide
    expect(expectedTensors(cfg)).toHaveLength(288); // 1 + 11·26 + 1
    expect(parameterCount(cfg)).toBe(2_614_341_888);
    expect(parameterCount(cfg) * 4).toBe(10_457_367_552); // f32 bytes, spec §1.3
  });

  it('gemma-2-2b-it: eos [1, 107], bfloat16, same architecture', () => {
    const cfg = parseGemma2Config(twoBit);
    expect(cfg.eosTokenIds).toEqual([1, 107]);
    expect(cfg.dtype).toBe('bfloat16');
    expect(parameterCount(cfg)).toBe(2_614_341_888);
    expect(parameterCount(cfg) * 2).toBe(5_228_683_776); // bf16 bytes
  });

  it('gemma-2-9b-it (legacy sliding_window_size): 464 tensors, 9,241,705,984 parameters', () => {
    const cfg = parseGemma2Config(nineBit);
    expect(cfg).toMatchObject({ V: 256000, C: 3584, FF: 14336, L: 42, NH: 16, KVH: 8, HD: 256, queryPreAttnScalar: 256, slidingWindow: 4096, dtype: 'bfloat16', warnings: [] });
    expect(expectedTensors(cfg)).toHaveLength(464);
    expect(parameterCount(cfg)).toBe(9_241_705_984);
    expect(parameterCount(cfg) * 2).toBe(18_483_411_968);
  });

  it('the transformers-v5 key style (layer_types, rope_parameters, dtype) gives the same config', () => {
    expect(parseGemma2Config(nineBitV5)).toEqual(parseGemma2Config(nineBit));
  });

  it('only the legacy sliding_window_size: it is the window', () => {
    const cfg = parseGemma2Config({ ...nineBit, sliding_window: undefined, sliding_window_size: 1024 });
    expect(cfg.slidingWindow).toBe(1024);
  });

  it('a minimal {"model_type": "gemma2"} takes transformers\' defaults (= gemma-2-2b)', () => {
    const cfg = parseGemma2Config({ model_type: 'gemma2' });
    const ref = parseGemma2Config(twoB);
    expect({ ...cfg, dtype: ref.dtype }).toEqual(ref);
    expect(cfg.dtype).toBeNull();
  });

  it('explicit layer_types are used as given', () => {
    const lt = Array.from({ length: 26 }, (_, i) => (i < 3 ? 'full_attention' : 'sliding_attention'));
    const cfg = parseGemma2Config(with2b({ layer_types: lt }));
    expect(cfg.layerTypes.slice(0, 4)).toEqual(['full', 'full', 'full', 'sliding']);
  });

  it('null softcaps mean no cap; sliding_window null is fine when no layer slides', () => {
    const cfg = parseGemma2Config(with2b({ attn_logit_softcapping: null, final_logit_softcapping: null, sliding_window: null, layer_types: Array(26).fill('full_attention') }));
    expect([cfg.attnSoftcap, cfg.finalSoftcap, cfg.slidingWindow]).toEqual([null, null, null]);
  });

  it('rope_parameters.rope_theta wins over rope_theta; rope_scaling {type: default} is accepted', () => {
    const cfg = parseGemma2Config(with2b({ rope_theta: 5, rope_parameters: { rope_type: 'default', rope_theta: 20000 }, rope_scaling: { type: 'default' } }));
    expect(cfg.ropeTheta).toBe(20000);
  });

  it('warns about ignored or inconsistent keys', () => {
    const cfg = parseGemma2Config(with2b({ hidden_act: 'gelu', sliding_window_size: 2048, architectures: ['Gemma2Model'], attention_dropout: 0.1 }));
    expect(cfg.warnings).toEqual([
      'config.json: architectures is ["Gemma2Model"], not Gemma2ForCausalLM; only the causal-LM tensors are used',
      'config.json: attention_dropout 0.1 is ignored (PrefStudio applies no attention dropout)',
      'config.json: legacy sliding_window_size 2048 differs from sliding_window 4096; using sliding_window (as transformers does)',
      'config.json: hidden_act "gelu" is ignored; Gemma-2 uses hidden_activation "gelu_pytorch_tanh"',
    ]);
  });
});

describe('expectedTensors', () => {
  it('lists names and [out, in] shapes in state-dict order', () => {
    const t = expectedTensors(parseGemma2Config(twoB));
    expect(t[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [256000, 2304] });
    expect(t.slice(1, 12)).toEqual([
      { name: 'model.layers.0.self_attn.q_proj.weight', shape: [2048, 2304] },
      { name: 'model.layers.0.self_attn.k_proj.weight', shape: [1024, 2304] },
      { name: 'model.layers.0.self_attn.v_proj.weight', shape: [1024, 2304] },
      { name: 'model.layers.0.self_attn.o_proj.weight', shape: [2304, 2048] },
      { name: 'model.layers.0.mlp.gate_proj.weight', shape: [9216, 2304] },
      { name: 'model.layers.0.mlp.up_proj.weight', shape: [9216, 2304] },
      { name: 'model.layers.0.mlp.down_proj.weight', shape: [2304, 9216] },
      { name: 'model.layers.0.input_layernorm.weight', shape: [2304] },
      { name: 'model.layers.0.post_attention_layernorm.weight', shape: [2304] },
      { name: 'model.layers.0.pre_feedforward_layernorm.weight', shape: [2304] },
      { name: 'model.layers.0.post_feedforward_layernorm.weight', shape: [2304] },
    ]);
    expect(t[t.length - 1]).toEqual({ name: 'model.norm.weight', shape: [2304] });
    expect(t.some((x) => x.name === 'lm_head.weight')).toBe(false); // tied, not saved
    expect(new Set(t.map((x) => x.name)).size).toBe(t.length);
  });

  it('counts per layer as spec §1.3 (77,865,984 for 2B; 198,195,200 for 9B)', () => {
    const perLayer = (c: Gemma2Config) => (parameterCount(c) - c.V * c.C - c.C) / c.L;
    expect(perLayer(parseGemma2Config(twoB))).toBe(77_865_984);
    expect(perLayer(parseGemma2Config(nineBit))).toBe(198_195_200);
  });
});

describe('parseGemma2Config: malformed configs (one message each)', () => {
  const K = (key: string) => `config.json, key '${key}'`;

  it('not an object', () => {
    expectLoadError(() => parseGemma2Config([1, 2]), 'config.json', 'is not a JSON object (found an array)');
    expectLoadError(() => parseGemma2Config(null, 'my/config.json'), 'my/config.json', 'is not a JSON object (found null)');
  });

  it('model_type missing or not gemma2 says what was found', () => {
    expectLoadError(() => parseGemma2Config(with2b({ model_type: undefined })), K('model_type'), 'expected "gemma2", found no model_type at all');
    expectLoadError(() => parseGemma2Config(with2b({ model_type: 'gemma' })), K('model_type'), 'found model_type "gemma" (a Gemma-1 checkpoint)');
    expectLoadError(() => parseGemma2Config(with2b({ model_type: 'gemma3_text' })), K('model_type'), 'found model_type "gemma3_text" (a Gemma-3 checkpoint)');
    const e = expectLoadError(() => parseGemma2Config(with2b({ model_type: 'llama' })), K('model_type'), 'expected "gemma2", found model_type "llama"');
    expect(e.hint).toContain('PrefStudio trains Gemma-2 only');
  });

  it('quantized checkpoints', () => {
    expectLoadError(() => parseGemma2Config(with2b({ quantization_config: { quant_method: 'bitsandbytes' } })), K('quantization_config'), 'the checkpoint is quantized');
  });

  it('sizes must be positive integers', () => {
    expectLoadError(() => parseGemma2Config(with2b({ hidden_size: 0 })), K('hidden_size'), 'must be a positive integer, found 0');
    expectLoadError(() => parseGemma2Config(with2b({ num_hidden_layers: -2 })), K('num_hidden_layers'), 'must be a positive integer, found -2');
    expectLoadError(() => parseGemma2Config(with2b({ head_dim: 2.5 })), K('head_dim'), 'must be a positive integer, found 2.5');
    expectLoadError(() => parseGemma2Config(with2b({ vocab_size: '256000' })), K('vocab_size'), 'must be a positive integer, found "256000"');
    expectLoadError(() => parseGemma2Config(with2b({ intermediate_size: null })), K('intermediate_size'), 'must be a positive integer, found null');
    expectLoadError(() => parseGemma2Config(with2b({ max_position_embeddings: 1e300 })), K('max_position_embeddings'), 'must be a positive integer, found 1e+300');
  });

  it('NH % KVH == 0', () => {
    expectLoadError(() => parseGemma2Config(with2b({ num_key_value_heads: 3 })), K('num_key_value_heads'), 'num_attention_heads (8) must be a multiple of num_key_value_heads (3)');
  });

  it('head_dim must be even (RoPE pairs i with i + HD/2)', () => {
    expectLoadError(() => parseGemma2Config(with2b({ head_dim: 255 })), K('head_dim'), 'must be even', 'found 255');
  });

  it('positive numbers: scalars, eps, theta, softcaps', () => {
    expectLoadError(() => parseGemma2Config(with2b({ query_pre_attn_scalar: 0 })), K('query_pre_attn_scalar'), 'must be a positive number, found 0');
    expectLoadError(() => parseGemma2Config(with2b({ rms_norm_eps: -1e-6 })), K('rms_norm_eps'), 'must be a positive number, found -0.000001');
    expectLoadError(() => parseGemma2Config(with2b({ rope_theta: 'big' })), K('rope_theta'), 'must be a positive number, found "big"');
    expectLoadError(() => parseGemma2Config(with2b({ attn_logit_softcapping: '50' })), K('attn_logit_softcapping'), 'must be a positive number, found "50"');
    expectLoadError(() => parseGemma2Config(with2b({ final_logit_softcapping: 0 })), K('final_logit_softcapping'), 'must be a positive number, found 0');
    expectLoadError(() => parseGemma2Config(with2b({ rope_parameters: { rope_type: 'default', rope_theta: -1 } })), K('rope_parameters.rope_theta'), 'must be a positive number, found -1');
  });

  it('layer_types: length and entries', () => {
    expectLoadError(() => parseGemma2Config(with2b({ layer_types: ['sliding_attention'] })), K('layer_types'), 'must be a list of num_hidden_layers (26) entries, found 1 entries');
    expectLoadError(() => parseGemma2Config(with2b({ layer_types: 'alternating' })), K('layer_types'), 'found "alternating"');
    const lt = Array(26).fill('full_attention');
    lt[5] = 'chunked_attention';
    expectLoadError(() => parseGemma2Config(with2b({ layer_types: lt })), K('layer_types'), 'entry 5 must be "sliding_attention" or "full_attention", found "chunked_attention"');
  });

  it('sliding window: null with sliding layers; legacy key invalid', () => {
    expectLoadError(() => parseGemma2Config(with2b({ sliding_window: null })), K('sliding_window'), 'is null but layer 0 is a sliding-window layer');
    expectLoadError(() => parseGemma2Config(with2b({ sliding_window: undefined, sliding_window_size: -4096 })), K('sliding_window_size'), 'must be a positive integer, found -4096');
  });

  it('RoPE: scaled or unknown rope types are rejected with a hint', () => {
    const e1 = expectLoadError(() => parseGemma2Config(with2b({ rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 10000 } })), K('rope_parameters'), 'RoPE scaling "linear" is not supported: Gemma-2 uses plain RoPE (rope_type "default")');
    expect(e1.hint).toContain('known rope types are default, linear, dynamic, yarn, longrope, llama3');
    expectLoadError(() => parseGemma2Config(with2b({ rope_parameters: { rope_type: 'spiral' } })), K('rope_parameters'), 'unknown rope_type "spiral"');
    expectLoadError(() => parseGemma2Config(with2b({ rope_scaling: { type: 'yarn', factor: 4 } })), K('rope_scaling'), 'RoPE scaling "yarn" is not supported');
    expectLoadError(() => parseGemma2Config(with2b({ rope_scaling: 2 })), K('rope_scaling'), 'must be null or an object, found 2');
    expectLoadError(() => parseGemma2Config(with2b({ rope_parameters: 'default' })), K('rope_parameters'), 'must be an object like');
    expectLoadError(() => parseGemma2Config(with2b({ rope_parameters: { full_attention: { rope_type: 'default' } } })), K('rope_parameters'), 'has per-layer-type parameters ("full_attention": {...})');
  });

  it('activation, biases, bidirectional attention, untied embeddings', () => {
    expectLoadError(() => parseGemma2Config(with2b({ hidden_activation: 'gelu' })), K('hidden_activation'), 'must be "gelu_pytorch_tanh" (tanh-approximated GELU), found "gelu"');
    expectLoadError(() => parseGemma2Config(with2b({ hidden_activation: null })), K('hidden_activation'), 'found null');
    expectLoadError(() => parseGemma2Config(with2b({ attention_bias: true })), K('attention_bias'), 'Gemma-2 has no biases, found true');
    expectLoadError(() => parseGemma2Config(with2b({ use_bidirectional_attention: true })), K('use_bidirectional_attention'), "PrefStudio's Gemma-2 is causal, found true");
    expectLoadError(() => parseGemma2Config(with2b({ tie_word_embeddings: false })), K('tie_word_embeddings'), 'must be true (Gemma-2 uses embed_tokens as its output matrix), found false');
  });

  it('token ids must be in [0, V)', () => {
    expectLoadError(() => parseGemma2Config(with2b({ eos_token_id: [1, 256000] })), K('eos_token_id'), 'must be a token id in [0, 256000) (vocab_size), found 256000');
    expectLoadError(() => parseGemma2Config(with2b({ eos_token_id: [1, null] })), K('eos_token_id'), 'list entries must be token ids, found null');
    expectLoadError(() => parseGemma2Config(with2b({ pad_token_id: -1 })), K('pad_token_id'), 'found -1');
    expectLoadError(() => parseGemma2Config(with2b({ bos_token_id: '2' })), K('bos_token_id'), 'found "2"');
    expect(parseGemma2Config(with2b({ pad_token_id: null })).padTokenId).toBeNull();
  });

  it('storage dtype must be float32, bfloat16 or float16 (dtype wins over torch_dtype)', () => {
    expectLoadError(() => parseGemma2Config(with2b({ torch_dtype: 'float64' })), K('torch_dtype'), 'must be "float32", "bfloat16" or "float16", found "float64"');
    expectLoadError(() => parseGemma2Config(with2b({ dtype: 'int8' })), K('dtype'), 'found "int8"');
    expect(parseGemma2Config(with2b({ dtype: 'float16' })).dtype).toBe('float16');
  });

  it('messages carry the file name the caller gives and a HINT line', () => {
    const e = expectLoadError(() => parseGemma2Config(with2b({ num_key_value_heads: 3 }), 'gemma-2-2b/config.json'), "gemma-2-2b/config.json, key 'num_key_value_heads'");
    expect(e.message).toMatch(/^gemma-2-2b\/config\.json, key 'num_key_value_heads': num_attention_heads \(8\).*\n---> HINT: /s);
  });
});
