#!/usr/bin/python3
"""
Gemma-2 PyTorch reference and golden fixtures for PrefStudio's engine.

    /usr/bin/python3 scripts/goldens/gemma2_reference.py           # self-checks, then regenerate all fixtures
    /usr/bin/python3 scripts/goldens/gemma2_reference.py --check   # self-checks only, writes nothing

Use Debian's /usr/bin/python3 (torch 1.13 + numpy). Nothing from PyPI is needed: there is no
`transformers` and no `safetensors` here, so this file re-implements both parts we need by hand.
Output is deterministic (fixed seeds, one torch thread): running it twice gives identical bytes.

What it does
  1. A functional re-implementation of transformers' Gemma2ForCausalLM forward with the *eager*
     attention path (spec gemma2-and-formats.md §1.4, §1.6), in float64 or float32 activations.
  2. Tiny random checkpoints in the exact Hugging Face layout (config.json + model.safetensors, or
     model-0000i-of-0000n.safetensors + model.safetensors.index.json), F32 or BF16 storage, written
     by a hand-rolled safetensors writer (spec §3). No lm_head.weight (tied, as in the Hub files).
  3. Goldens for a fixed right-padded batch with prompt/completion masks: capped logits, TRL-style
     completion log-probs and their per-sequence sums, logsumexp and log Σ p² per position, the
     residual stream after every layer, and the gradient of Σ completion log-probs w.r.t. every
     parameter. Computed from the weights *as stored* (bf16-rounded for BF16 checkpoints), once
     with float64 activations ("f64/...") and once with float32 ("f32/...").
  4. Self-checks: each op against an independent formulation (loops, complex numbers, numpy), the
     whole model against a plain numpy forward, padding invariance, sliding window actually active,
     autograd vs finite differences (torch gradcheck on a micro model + central differences on the
     fixtures), bf16 rounding vs torch, safetensors and golden files read back.

Outputs
  e2e/fixtures/checkpoints/<name>/   config.json, *.safetensors [, model.safetensors.index.json]
  e2e/fixtures/goldens/<name>.bin    PSGOLDEN v1 (below); read by e2e/fixtures/goldens/read.ts

Dimension letters (llm.c style): B batch, T sequence length, V vocab, C hidden size, FF MLP width,
L layers, NH query heads, KVH key/value heads, G = NH/KVH query heads per kv head, HD head dim,
W sliding window.

Conventions that the engine must reproduce (all straight from transformers, eager path)
  - h0 = E[ids] · sqrt(C), with sqrt(C) first rounded to the activation dtype.
  - RMSNorm: y = x · rsqrt(mean(x²) + eps) · (1 + w), in f32 (see "f64 deviations"), cast back.
  - q/k/v/o/gate/up/down are bias-free nn.Linear: y = x · Wᵀ, W stored [out, in].
  - RoPE half-split: x'[i] = x[i]cos − x[i+HD/2]sin, x'[i+HD/2] = x[i+HD/2]cos + x[i]sin, with
    inv_freq[i] = 1 / θ^(2i/HD) computed in f32 exactly as transformers does (stored in the golden
    as `rope_inv_freq`), angle = position · inv_freq, positions = arange(T) even for padded rows.
  - GQA: query head h reads kv head floor(h / G).
  - scores = (q · k) · query_pre_attn_scalar^-0.5, then cap·tanh(scores / cap), THEN the mask.
  - mask: key k visible to query q iff k ≤ q, key k is not padding, and on sliding layers also
    k > q − W. Masked entries get finfo(dtype).min added (transformers' additive mask), softmax in f32.
  - layer i is sliding iff layer_types[i] == "sliding_attention"; without layer_types: i even.
  - MLP: down(gelu_tanh(gate(x)) ⊙ up(x)).
  - logits z = cap·tanh((final_norm(h) · Eᵀ) / cap).

TRL log-prob convention (trl DPOTrainer.concatenated_forward)
  labels[b, k] = ids[b, k+1] if token k+1 is a completion token, else −100 (also k = T−1).
  logp[b, k]   = z[b, k, labels[b, k]] − logsumexp(z[b, k, :]) where labels[b, k] ≥ 0, else 0.
  seq_logp[b]  = Σ_k logp[b, k]. (TRL rolls its per-token array right by one so that entry k+1
  belongs to token k+1; ours is indexed by the logits position k, like src/engine/reference/logprobs.ts.)
  lse[b, k] = logsumexp(z[b, k, :]); lsp2[b, k] = log Σ_v p_v² = LSE(2z) − 2·LSE(z) (the WPO term),
  both for every position including padding. objective = Σ_b seq_logp[b]; grad/<param> = ∂objective/∂param.

f64 deviations from a literal transformers run in float64
  transformers hard-codes `.float()` in RMSNorm and `softmax(dtype=torch.float32)` in attention, so a
  float64 transformers model would drop to f32 there. Our f64 golden is the exact math instead: those
  steps run in float64 (and RoPE angles/cos/sin too, from the f32 inv_freq). The f32 golden follows
  transformers' f32 path literally.

Padding rows
  On sliding layers a padding query whose window holds only padding keys has every key masked;
  transformers' additive mask then gives a uniform softmax over all T keys, and so do we. The values
  at padding positions (logits, lse, lsp2, hidden) are therefore implementation-defined: compare them
  only where attention_mask = 1. They never reach logp, seq_logp or the gradients.

PSGOLDEN v1 binary format (little-endian)
  offset 0   8 bytes   ASCII "PSGOLDEN"
  offset 8   u32       version = 1
  offset 12  u32       N = byte length of the JSON header (a multiple of 8)
  offset 16  N bytes   UTF-8 JSON, right-padded with spaces (0x20)
  offset 16+N          data section; each tensor at 16 + N + offset, offsets multiples of 8,
                       zero bytes between tensors, the file ends right after the last tensor.
  JSON header: {"magic": "PSGOLDEN", "version": 1, "name", "checkpoint" (repo-relative directory),
                "config" (the config.json object), "model" (parsed dims, see parse_config),
                "batch": {"B", "T"}, "data_bytes", "notes": [...],
                "tensors": [{"name", "dtype": "f32"|"f64"|"i32", "shape": [...], "offset", "nbytes"}]}
  Tensors (row-major):
    input_ids i32 [B,T]; attention_mask i32 [B,T] (1 real, 0 padding); completion_mask i32 [B,T];
    labels i32 [B,T] (−100 = ignored); rope_inv_freq f32 [HD/2]
    then for P in f64, f32 (array dtype = P):
    P/logits [B,T,V] (after the final softcap); P/lse [B,T]; P/lsp2 [B,T]; P/logp [B,T];
    P/seq_logp [B]; P/objective [] ; P/hidden.0 … P/hidden.L [B,T,C] (residual stream: scaled
    embedding, then after each layer); P/final_norm [B,T,C]; P/grad/<HF parameter name> (param shape).
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKPOINT_DIR = os.path.join(ROOT, "e2e", "fixtures", "checkpoints")
GOLDEN_DIR = os.path.join(ROOT, "e2e", "fixtures", "goldens")

GOLDEN_MAGIC = b"PSGOLDEN"
GOLDEN_VERSION = 1

# ============================================================================ config


class Dims:
    """The numbers the forward pass needs, parsed from a Gemma2 config.json dict (old or new keys)."""

    def __init__(self, cfg):
        if cfg.get("model_type") != "gemma2":
            raise ValueError(f"config model_type is {cfg.get('model_type')!r}, expected 'gemma2'")
        self.V = cfg["vocab_size"]
        self.C = cfg["hidden_size"]
        self.FF = cfg["intermediate_size"]
        self.L = cfg["num_hidden_layers"]
        self.NH = cfg["num_attention_heads"]
        self.KVH = cfg.get("num_key_value_heads", self.NH)
        self.HD = cfg.get("head_dim", self.C // self.NH)
        if self.NH % self.KVH != 0:
            raise ValueError(f"num_attention_heads {self.NH} is not a multiple of num_key_value_heads {self.KVH}")
        self.G = self.NH // self.KVH
        self.W = cfg["sliding_window"]
        # new-style `layer_types`, else the Gemma-2 default: even layers sliding, odd layers global
        types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(self.L)]
        if len(types) != self.L or any(t not in ("sliding_attention", "full_attention") for t in types):
            raise ValueError(f"layer_types {types} must list {self.L} of 'sliding_attention' / 'full_attention'")
        self.layer_types = types
        self.sliding = [t == "sliding_attention" for t in types]
        # new-style `rope_parameters` {"rope_type": "default", "rope_theta": θ}, else top-level `rope_theta`
        rope = cfg.get("rope_parameters") or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"only the default RoPE is implemented, got rope_parameters {rope}")
        self.theta = float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0)))
        self.qpas = float(cfg["query_pre_attn_scalar"])
        self.attn_cap = cfg.get("attn_logit_softcapping")
        self.final_cap = cfg.get("final_logit_softcapping")
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        act = cfg.get("hidden_activation") or cfg.get("hidden_act")
        if act != "gelu_pytorch_tanh":
            raise ValueError(f"hidden_activation {act!r}: only gelu_pytorch_tanh (Gemma-2) is implemented")
        if cfg.get("tie_word_embeddings", True) is not True:
            raise ValueError("tie_word_embeddings must be true for Gemma-2")

    def as_json(self):
        """The parsed dims, stored in each golden's header as "model" (TS reads these, not config.json)."""
        return {
            "V": self.V, "C": self.C, "FF": self.FF, "L": self.L, "NH": self.NH, "KVH": self.KVH,
            "HD": self.HD, "W": self.W, "layer_types": self.layer_types, "rope_theta": self.theta,
            "query_pre_attn_scalar": self.qpas, "attn_logit_softcapping": self.attn_cap,
            "final_logit_softcapping": self.final_cap, "rms_norm_eps": self.eps,
            "embed_scale_f32": float(np.float32(math.sqrt(self.C))), "embed_scale_f64": math.sqrt(self.C),
        }


def param_shapes(d):
    """HF parameter names and shapes in state-dict (module registration) order; no lm_head.weight."""
    shapes = OrderedDict()
    shapes["model.embed_tokens.weight"] = (d.V, d.C)
    for i in range(d.L):
        p = f"model.layers.{i}."
        shapes[p + "self_attn.q_proj.weight"] = (d.NH * d.HD, d.C)
        shapes[p + "self_attn.k_proj.weight"] = (d.KVH * d.HD, d.C)
        shapes[p + "self_attn.v_proj.weight"] = (d.KVH * d.HD, d.C)
        shapes[p + "self_attn.o_proj.weight"] = (d.C, d.NH * d.HD)
        shapes[p + "mlp.gate_proj.weight"] = (d.FF, d.C)
        shapes[p + "mlp.up_proj.weight"] = (d.FF, d.C)
        shapes[p + "mlp.down_proj.weight"] = (d.C, d.FF)
        shapes[p + "input_layernorm.weight"] = (d.C,)
        shapes[p + "post_attention_layernorm.weight"] = (d.C,)
        shapes[p + "pre_feedforward_layernorm.weight"] = (d.C,)
        shapes[p + "post_feedforward_layernorm.weight"] = (d.C,)
    shapes["model.norm.weight"] = (d.C,)
    return shapes


# ============================================================================ the model


def compute_dtype(act):
    """Dtype of the steps transformers upcasts (RMSNorm, softmax, RoPE angles): f32, or f64 for f64."""
    return torch.float64 if act == torch.float64 else torch.float32


def rms_norm(x, w, eps):
    """Gemma RMSNorm. x: [..., C] (act dtype), w: [C] stored weight used as (1 + w).
    Normalises and multiplies by (1 + w) in f32 (f64 for f64), then casts back to x's dtype."""
    cd = compute_dtype(x.dtype)
    x32 = x.to(cd)
    y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)  # [..., C]
    y = y * (1.0 + w.to(cd))
    return y.to(x.dtype)


def rope_inv_freq(HD, theta):
    """inv_freq[i] = 1 / θ^(2i/HD), i < HD/2, computed in f32 exactly as transformers'
    `_compute_default_rope_parameters`: 1.0 / (base ** (arange(0, dim, 2).float() / dim))."""
    return 1.0 / (theta ** (torch.arange(0, HD, 2, dtype=torch.int64).to(torch.float32) / HD))  # [HD/2] f32


def rope_cos_sin(T, inv_freq, act):
    """cos, sin: [T, HD] in act dtype; the HD/2 angles are duplicated (cat(freqs, freqs))."""
    cd = compute_dtype(act)
    pos = torch.arange(T, dtype=cd)  # [T]
    freqs = pos[:, None] * inv_freq.to(cd)[None, :]  # [T, HD/2]; a K=1 matmul in transformers
    emb = torch.cat([freqs, freqs], dim=-1)  # [T, HD]
    return emb.cos().to(act), emb.sin().to(act)


def rotate_half(x):
    """[x1, x2] -> [-x2, x1] on the last dim (halves, not interleaved pairs)."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x, cos, sin):
    """x: [B, H, T, HD]; cos/sin: [T, HD]. Dimension i rotates together with i + HD/2."""
    return x * cos + rotate_half(x) * sin


def allowed_keys(attention_mask, window):
    """Boolean visibility [B, 1, T, T] (query q, key k): causal, not padding, and k > q − W on sliding
    layers (window = W) or no window (None)."""
    B, T = attention_mask.shape
    qi = torch.arange(T)[:, None]  # [T, 1]
    ki = torch.arange(T)[None, :]  # [1, T]
    ok = ki <= qi  # [T, T] causal
    if window is not None:
        ok = ok & (ki > qi - window)  # the query itself and the W−1 keys before it
    ok = ok[None, :, :] & (attention_mask[:, None, :] != 0)  # [B, T, T] padding keys masked
    return ok[:, None, :, :]  # [B, 1, T, T]


# The function behind every projection (q/k/v/o, MLP, tied lm_head). Callers may replace it with an
# equivalent kernel for speed (scripts/demo/train_demo.py routes it through oneDNN); the goldens and
# self-checks here always use F.linear.
LINEAR = F.linear


def linear(x, W):
    """Bias-free nn.Linear: x · Wᵀ through LINEAR. x: [..., in], W: [out, in] -> [..., out]."""
    return LINEAR(x, W)


def attention(x, Wq, Wk, Wv, Wo, d, cos, sin, allowed, trace=None):
    """Gemma2Attention + eager_attention_forward. x: [B, T, C] (normed) -> [B, T, C]."""
    B, T, _ = x.shape
    act = x.dtype
    q = linear(x, Wq).view(B, T, d.NH, d.HD).transpose(1, 2)  # [B, NH, T, HD]
    k = linear(x, Wk).view(B, T, d.KVH, d.HD).transpose(1, 2)  # [B, KVH, T, HD]
    v = linear(x, Wv).view(B, T, d.KVH, d.HD).transpose(1, 2)  # [B, KVH, T, HD]
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    # GQA (repeat_kv): kv head j serves query heads j·G … j·G+G−1
    k = k.repeat_interleave(d.G, dim=1)  # [B, NH, T, HD]
    v = v.repeat_interleave(d.G, dim=1)  # [B, NH, T, HD]
    s = torch.matmul(q, k.transpose(2, 3)) * (d.qpas ** -0.5)  # [B, NH, T, T]
    if trace is not None:
        trace["scores_precap"] = s.detach()
    if d.attn_cap is not None:  # cap first (divide, tanh, multiply, as transformers writes it) ...
        s = s / d.attn_cap
        s = torch.tanh(s)
        s = s * d.attn_cap
    # ... then the additive mask: 0 where visible, the dtype's most negative finite value elsewhere
    s = s + torch.where(allowed, torch.tensor(0.0, dtype=act), torch.tensor(torch.finfo(act).min, dtype=act))
    P = F.softmax(s, dim=-1, dtype=compute_dtype(act)).to(act)  # [B, NH, T, T]
    o = torch.matmul(P, v)  # [B, NH, T, HD]
    if trace is not None:
        trace["q"], trace["k"], trace["v"], trace["heads"] = q.detach(), k.detach(), v.detach(), o.detach()
    o = o.transpose(1, 2).reshape(B, T, d.NH * d.HD)  # [B, T, NH·HD], head h in columns h·HD …
    return linear(o, Wo)  # [B, T, C]


def mlp(x, Wg, Wu, Wd):
    """GeGLU: down(gelu_tanh(gate(x)) ⊙ up(x)). x: [B, T, C] -> [B, T, C]."""
    return linear(F.gelu(linear(x, Wg), approximate="tanh") * linear(x, Wu), Wd)


def forward(params, d, input_ids, attention_mask, trace=None):
    """Gemma2ForCausalLM.forward, eager attention, no cache, position_ids = arange(T).
    params: name -> tensor, all in the activation dtype. input_ids, attention_mask: [B, T] int64.
    Returns capped logits [B, T, V]. `trace` (a dict) collects hidden states and attention internals."""
    E = params["model.embed_tokens.weight"]  # [V, C]
    act = E.dtype
    B, T = input_ids.shape
    h = E[input_ids] * torch.tensor(math.sqrt(d.C), dtype=act)  # [B, T, C]; sqrt(C) rounded to act first
    cos, sin = rope_cos_sin(T, rope_inv_freq(d.HD, d.theta), act)  # [T, HD] each
    masks = {w: allowed_keys(attention_mask, w) for w in (None, d.W)}
    if trace is not None:
        trace["hidden"] = [h]
        trace["layers"] = []
    for i in range(d.L):
        p = lambda name: params[f"model.layers.{i}.{name}.weight"]  # noqa: E731
        lt = {} if trace is not None else None
        r = h
        a = rms_norm(h, p("input_layernorm"), d.eps)
        a = attention(a, p("self_attn.q_proj"), p("self_attn.k_proj"), p("self_attn.v_proj"), p("self_attn.o_proj"),
                      d, cos, sin, masks[d.W if d.sliding[i] else None], lt)
        a = rms_norm(a, p("post_attention_layernorm"), d.eps)
        h = r + a  # residual after the post-norm (sandwich norm)
        r = h
        m = rms_norm(h, p("pre_feedforward_layernorm"), d.eps)
        m = mlp(m, p("mlp.gate_proj"), p("mlp.up_proj"), p("mlp.down_proj"))
        m = rms_norm(m, p("post_feedforward_layernorm"), d.eps)
        h = r + m
        if trace is not None:
            trace["hidden"].append(h)
            trace["layers"].append(lt)
    h = rms_norm(h, params["model.norm.weight"], d.eps)  # [B, T, C]
    z = linear(h, E)  # [B, T, V]; tied lm_head, not scaled
    if trace is not None:
        trace["final_norm"] = h
        trace["logits_precap"] = z.detach()
    if d.final_cap is not None:
        z = z / d.final_cap
        z = torch.tanh(z)
        z = z * d.final_cap
    return z


def make_labels(input_ids, completion_mask):
    """labels[b, k] = ids[b, k+1] if token k+1 is a completion token, else −100 (TRL, shifted)."""
    labels = torch.full_like(input_ids, -100)
    labels[:, :-1] = torch.where(completion_mask[:, 1:] != 0, input_ids[:, 1:], torch.full_like(input_ids[:, 1:], -100))
    return labels


def logprob_terms(z, labels):
    """z: capped logits [B, T, V]; labels [B, T]. Returns logp [B,T] (0 where ignored), seq_logp [B],
    lse [B,T], lsp2 [B,T] = log Σ_v p_v²."""
    lse = torch.logsumexp(z, dim=-1)  # [B, T]
    lsp2 = torch.logsumexp(2 * z, dim=-1) - 2 * lse  # [B, T]
    valid = labels >= 0
    zy = z.gather(-1, labels.clamp(min=0)[..., None])[..., 0]  # [B, T]
    logp = torch.where(valid, zy - lse, torch.zeros_like(lse))
    return logp, logp.sum(-1), lse, lsp2


# ============================================================================ bf16 and safetensors

ST_SIZES = {"F64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2, "U8": 1}


def f32_to_bf16_bits(x):
    """float32 array -> uint16 bf16 bit patterns, round-to-nearest-even; NaN stays a (quiet) NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    rounded[nan] = ((u[nan] >> 16) | 0x0040).astype(np.uint16)  # keep sign and payload top, set quiet bit
    return rounded


def bf16_bits_to_f32(bits):
    """uint16 bf16 bit patterns -> float32 (exact: the bits become the top half of an f32)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def safetensors_bytes(tensors):
    """tensors: {name: (dtype string, shape tuple, raw little-endian bytes)} -> complete file bytes.
    Mirrors the reference writer: tensors ordered by descending dtype alignment, then name;
    relative data_offsets; header JSON padded with spaces to a multiple of 8; {"format": "pt"}."""
    order = sorted(tensors, key=lambda n: (-ST_SIZES[tensors[n][0]], n))
    header = {"__metadata__": {"format": "pt"}}
    pos = 0
    for name in order:
        dtype, shape, raw = tensors[name]
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * ST_SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + len(raw)]}
        pos += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(tensors[n][2] for n in order)


def read_safetensors(path):
    """Reads and validates a safetensors file like the reference reader (spec §3). Returns
    ({name: float32 array (BF16 widened)}, {name: dtype string}, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    where = os.path.relpath(path, ROOT)
    if len(buf) < 8:
        raise ValueError(f"{where}: file shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", buf, 0)
    if n > 100_000_000 or 8 + n > len(buf):
        raise ValueError(f"{where}: header length {n} is too large for a {len(buf)}-byte file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    pos, out, dtypes = 0, {}, {}
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != pos or e < b:
            raise ValueError(f"{where}: tensor {name} has data_offsets {info['data_offsets']}, expected to start at {pos}")
        numel = int(np.prod(info["shape"], dtype=np.int64))
        if e - b != numel * ST_SIZES[info["dtype"]]:
            raise ValueError(f"{where}: tensor {name} has {e - b} bytes, expected {numel}·{ST_SIZES[info['dtype']]}")
        raw = buf[8 + n + b:8 + n + e]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2"))
        else:
            raise ValueError(f"{where}: tensor {name}: dtype {info['dtype']} not handled by this reader")
        out[name] = arr.reshape(info["shape"])
        dtypes[name] = info["dtype"]
        pos = e
    if 8 + n + pos != len(buf):
        raise ValueError(f"{where}: data covers {pos} bytes but the file has {len(buf) - 8 - n} after the header")
    return out, dtypes, meta


def shard_plan(names, nbytes, n_shards):
    """Greedy shard assignment in state-dict order (huggingface_hub split_torch_state_dict_into_shards):
    a new shard starts when the next tensor would overflow max_shard_size. We search the smallest
    max_shard_size giving exactly n_shards, so the split looks like a real sharded save."""
    def greedy(cap):
        shards, cur, size = [], [], 0
        for name in names:
            if cur and size + nbytes[name] > cap:
                shards.append(cur)
                cur, size = [], 0
            cur.append(name)
            size += nbytes[name]
        shards.append(cur)
        return shards

    total = sum(nbytes.values())
    for cap in range(max(nbytes.values()), total + 1, 2):
        shards = greedy(cap)
        if len(shards) <= n_shards:
            if len(shards) != n_shards:
                raise ValueError(f"cannot split {len(names)} tensors into exactly {n_shards} greedy shards")
            return shards
    raise AssertionError("unreachable")


def write_checkpoint(out_dir, config, params, storage, n_shards):
    """Writes config.json and the safetensors shard(s) of `params` (name -> f32 tensor, state-dict order)
    in `storage` "F32" or "BF16". Returns the file names written."""
    if os.path.isdir(out_dir):
        for f in os.listdir(out_dir):  # remove stale shards of an earlier layout
            if f.endswith(".safetensors") or f.endswith(".json"):
                os.remove(os.path.join(out_dir, f))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")  # transformers' to_json_string
    raw = OrderedDict()
    for name, t in params.items():
        a = t.detach().to(torch.float32).numpy()
        raw[name] = (f32_to_bf16_bits(a).astype("<u2") if storage == "BF16" else a.astype("<f4")).tobytes()
    shape = {name: tuple(t.shape) for name, t in params.items()}
    if n_shards == 1:
        with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes({n: (storage, shape[n], raw[n]) for n in raw}))
        return ["config.json", "model.safetensors"]
    plan = shard_plan(list(raw), {n: len(raw[n]) for n in raw}, n_shards)
    files, weight_map = ["config.json"], {}
    for i, names in enumerate(plan):
        fname = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(safetensors_bytes({n: (storage, shape[n], raw[n]) for n in names}))
        weight_map.update({n: fname for n in names})
        files.append(fname)
    index = {"metadata": {"total_size": sum(len(r) for r in raw.values())}, "weight_map": weight_map}
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return files + ["model.safetensors.index.json"]


def load_checkpoint(ckpt_dir):
    """Reads a checkpoint directory back (config + all shards, via the index if present).
    Returns (config dict, OrderedDict name -> f32 tensor in state-dict order, storage dtypes)."""
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        config = json.load(f)
    index_path = os.path.join(ckpt_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        files = sorted(set(index["weight_map"].values()))
    else:
        index, files = None, ["model.safetensors"]
    tensors, dtypes, data_bytes = {}, {}, 0
    for fname in files:
        t, dt, meta = read_safetensors(os.path.join(ckpt_dir, fname))
        if meta != {"format": "pt"}:
            raise ValueError(f"{fname}: __metadata__ is {meta}, expected {{'format': 'pt'}}")
        for name in t:
            if index is not None and index["weight_map"].get(name) != fname:
                raise ValueError(f"{fname}: tensor {name} is not mapped to this file by the index")
            data_bytes += t[name].size * ST_SIZES[dt[name]]
        tensors.update(t)
        dtypes.update(dt)
    if index is not None and index["metadata"]["total_size"] != data_bytes:
        raise ValueError(f"index total_size {index['metadata']['total_size']} != {data_bytes} data bytes in the shards")
    shapes = param_shapes(Dims(config))
    if set(tensors) != set(shapes):
        raise ValueError(f"tensor names differ from the Gemma2 state dict: {sorted(set(tensors) ^ set(shapes))}")
    params = OrderedDict()
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{name}: shape {tensors[name].shape}, expected {shape}")
        params[name] = torch.from_numpy(tensors[name].copy())
    return config, params, dtypes


# ============================================================================ PSGOLDEN files

GOLDEN_DTYPES = {np.dtype("float32"): "f32", np.dtype("float64"): "f64", np.dtype("int32"): "i32"}


def write_golden(path, header, arrays):
    """arrays: list of (name, numpy array f32/f64/i32). Layout in the module docstring."""
    entries, blobs, pos = [], [], 0
    for name, a in arrays:
        a = np.asarray(a, order="C")  # (ascontiguousarray would turn a 0-d array into shape [1])
        dt = GOLDEN_DTYPES[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        pad = -pos % 8
        blobs.append(b"\0" * pad + raw)
        pos += pad
        entries.append({"name": name, "dtype": dt, "shape": list(a.shape), "offset": pos, "nbytes": len(raw)})
        pos += len(raw)
    head = dict(header, magic=GOLDEN_MAGIC.decode(), version=GOLDEN_VERSION, data_bytes=pos, tensors=entries)
    hjson = json.dumps(head, indent=1).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(GOLDEN_MAGIC + struct.pack("<II", GOLDEN_VERSION, len(hjson)) + hjson + b"".join(blobs))


def read_golden(path):
    """Python mirror of read.ts: returns (header, {name: numpy array})."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != GOLDEN_MAGIC:
        raise ValueError(f"{path}: bad magic {buf[:8]!r}")
    version, n = struct.unpack_from("<II", buf, 8)
    if version != GOLDEN_VERSION:
        raise ValueError(f"{path}: version {version}, expected {GOLDEN_VERSION}")
    header = json.loads(buf[16:16 + n].decode("utf-8"))
    np_dt = {"f32": "<f4", "f64": "<f8", "i32": "<i4"}
    out = {}
    for t in header["tensors"]:
        start = 16 + n + t["offset"]
        out[t["name"]] = np.frombuffer(buf[start:start + t["nbytes"]], dtype=np_dt[t["dtype"]]).reshape(t["shape"])
    if 16 + n + header["data_bytes"] != len(buf):
        raise ValueError(f"{path}: file length {len(buf)} != 16 + {n} + {header['data_bytes']}")
    return header, out


# ============================================================================ fixtures


def gemma2_config(V, C, FF, L, NH, KVH, HD, W, qpas, storage, new_style, layer_types=None, theta=10000.0,
                  attn_cap=50.0, final_cap=30.0):
    """A config.json dict as transformers would save it. Old style (v4.4x): top-level rope_theta,
    torch_dtype, 9b's legacy sliding_window_size, tie_word_embeddings omitted (it is the default).
    New style (v5): layer_types, rope_parameters, dtype, explicit tie_word_embeddings."""
    cfg = {
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "attention_bias": False, "attention_dropout": 0.0,
        "attn_logit_softcapping": attn_cap, "final_logit_softcapping": final_cap,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
        "cache_implementation": "hybrid",
        "head_dim": HD, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": C, "initializer_range": 0.02, "intermediate_size": FF,
        "max_position_embeddings": 8192, "num_attention_heads": NH, "num_hidden_layers": L,
        "num_key_value_heads": KVH, "query_pre_attn_scalar": qpas, "rms_norm_eps": 1e-06,
        "sliding_window": W, "use_cache": True, "vocab_size": V,
    }
    dtype_name = {"F32": "float32", "BF16": "bfloat16"}[storage]
    if new_style:
        cfg["layer_types"] = layer_types or ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(L)]
        cfg["rope_parameters"] = {"rope_theta": theta, "rope_type": "default"}
        cfg["dtype"] = dtype_name
        cfg["tie_word_embeddings"] = True
        cfg["transformers_version"] = "5.0.0"
    else:
        assert layer_types is None, "old-style configs cannot carry layer_types"
        cfg["rope_theta"] = theta
        cfg["torch_dtype"] = dtype_name
        cfg["sliding_window_size"] = W
        cfg["transformers_version"] = "4.44.2"
    return cfg


# Each fixture: config, storage, shards, init scales, and the batch as (prompt_len, completion_len) per
# row. Rows are [<bos>=2, prompt…, completion…, <eos>=1] right-padded with <pad>=0 to T; the prompt
# includes <bos>, the completion ends with <eos> (TRL appends eos_token_id to each completion).
# Init scales (std of N(0, s²)) are chosen so both softcaps bend: pre-cap attention scores and
# logits reach tens (printed as "softcap reach" when the script runs).
FIXTURES = [
    {
        "name": "tiny-f32-1shard", "seed": 1, "storage": "F32", "shards": 1,
        "config": gemma2_config(V=64, C=32, FF=64, L=2, NH=4, KVH=2, HD=8, W=4, qpas=8, storage="F32", new_style=False),
        "T": 9, "rows": [(3, 6), (4, 3), (2, 2)],
        "scales": {"embed": 1.5, "qk": 0.75, "v": 0.35, "o": 0.35, "gate_up": 0.35, "down": 0.25, "norm": 0.3},
    },
    {
        # NH·HD = 72 ≠ C = 48; G = 3; query_pre_attn_scalar = C/NH = 8 ≠ HD (27B-like scaling)
        "name": "tiny-bf16-3shard", "seed": 2, "storage": "BF16", "shards": 3,
        "config": gemma2_config(V=96, C=48, FF=80, L=2, NH=6, KVH=2, HD=12, W=3, qpas=8, storage="BF16", new_style=True),
        "T": 10, "rows": [(4, 6), (3, 5), (5, 1)],
        "scales": {"embed": 1.4, "qk": 0.6, "v": 0.3, "o": 0.3, "gate_up": 0.3, "down": 0.25, "norm": 0.3},
    },
    {
        # odd layer count, MQA (KVH = 1), non-default layer_types and rope_theta (read them, don't assume),
        # awkward V, NH·HD = 32 ≠ C = 24
        "name": "tiny-l3-f32-2shard", "seed": 3, "storage": "F32", "shards": 2,
        "config": gemma2_config(V=50, C=24, FF=40, L=3, NH=2, KVH=1, HD=16, W=3, qpas=16, storage="F32", new_style=True,
                                layer_types=["sliding_attention", "sliding_attention", "full_attention"], theta=1000.0),
        "T": 8, "rows": [(1, 7), (3, 3)],
        "scales": {"embed": 1.6, "qk": 0.8, "v": 0.35, "o": 0.35, "gate_up": 0.35, "down": 0.3, "norm": 0.3},
    },
]


def init_params(d, seed, scales):
    """Seeded random weights (f32), state-dict order. Norm weights are uniform in ±scales['norm'] so
    that (1 + w) is exercised (a zero w would hide a missing "1 +")."""
    g = torch.Generator().manual_seed(seed)
    params = OrderedDict()
    for name, shape in param_shapes(d).items():
        if name.endswith("norm.weight"):
            params[name] = (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * scales["norm"]
            continue
        key = ("embed" if "embed_tokens" in name else "qk" if ("q_proj" in name or "k_proj" in name)
               else "v" if "v_proj" in name else "o" if "o_proj" in name else "down" if "down_proj" in name else "gate_up")
        params[name] = torch.randn(shape, generator=g, dtype=torch.float32) * scales[key]
    return params


def make_batch(d, T, rows, seed):
    """input_ids, attention_mask, completion_mask: [B, T] int64 (right padding)."""
    g = torch.Generator().manual_seed(1000 + seed)
    B = len(rows)
    ids = torch.zeros(B, T, dtype=torch.int64)  # <pad> = 0
    am = torch.zeros(B, T, dtype=torch.int64)
    cm = torch.zeros(B, T, dtype=torch.int64)
    for b, (P, Cn) in enumerate(rows):
        n = P + Cn
        assert 1 <= P and 1 <= Cn and n <= T, (P, Cn, T)
        ids[b, :n] = torch.randint(3, d.V, (n,), generator=g)  # ordinary tokens, ids ≥ 3
        ids[b, 0] = 2  # <bos>
        ids[b, n - 1] = 1  # <eos> closes the completion
        am[b, :n] = 1
        cm[b, P:n] = 1
    return ids, am, cm


def run(params32, d, ids, am, cm, act):
    """Forward + backward in activation dtype `act` from the stored (f32-decoded) weights.
    Returns a dict of numpy arrays (golden contents for one dtype) and the trace."""
    params = OrderedDict((n, t.to(act).clone().requires_grad_(True)) for n, t in params32.items())
    trace = {}
    z = forward(params, d, ids, am, trace)
    labels = make_labels(ids, cm)
    logp, seq, lse, lsp2 = logprob_terms(z, labels)
    objective = seq.sum()
    grads = torch.autograd.grad(objective, list(params.values()))
    out = OrderedDict()
    out["logits"] = z.detach()
    out["lse"] = lse.detach()
    out["lsp2"] = lsp2.detach()
    out["logp"] = logp.detach()
    out["seq_logp"] = seq.detach()
    out["objective"] = objective.detach()
    for i, h in enumerate(trace["hidden"]):
        out[f"hidden.{i}"] = h.detach()
    out["final_norm"] = trace["final_norm"].detach()
    for name, gr in zip(params, grads):
        out[f"grad/{name}"] = gr
    return OrderedDict((k, v.numpy()) for k, v in out.items()), trace


def softcap_reach(trace, d, am):
    """How far the caps bend, on real (non-padding) query rows: max |pre-cap score| per layer and the
    share of visible scores with |s| > cap/3 (tanh(1/3) is 3.6 % below linear); same for logits."""
    real = am.bool()
    parts = []
    for i, lt in enumerate(trace["layers"]):
        s = lt["scores_precap"]  # [B, NH, T, T]
        vis = allowed_keys(am, d.W if d.sliding[i] else None).expand_as(s) & real[:, None, :, None]
        sv = s[vis].abs()
        parts.append(f"L{i} max|s| {sv.max():.1f} ({(sv > d.attn_cap / 3).float().mean() * 100:.0f}% > cap/3)")
    zl = trace["logits_precap"][real].abs()
    parts.append(f"max|z| {zl.max():.1f} ({(zl > d.final_cap / 3).float().mean() * 100:.0f}% > cap/3)")
    return "; ".join(parts)


def build_fixture(fx, write=True):
    """Writes one checkpoint + golden. Returns (summary line, loaded params, dims, batch, outputs)."""
    cfg = fx["config"]
    d = Dims(cfg)
    params = init_params(d, fx["seed"], fx["scales"])
    ckpt_dir = os.path.join(CHECKPOINT_DIR, fx["name"])
    if write:
        files = write_checkpoint(ckpt_dir, cfg, params, fx["storage"], fx["shards"])
        cfg_back, stored, dtypes = load_checkpoint(ckpt_dir)  # goldens come from what is on disk
        assert cfg_back == cfg and set(dtypes.values()) == {fx["storage"]}
    else:
        files = []
        stored = OrderedDict((n, torch.from_numpy(bf16_bits_to_f32(f32_to_bf16_bits(t.numpy())).reshape(t.shape))
                              if fx["storage"] == "BF16" else t) for n, t in params.items())
    ids, am, cm = make_batch(d, fx["T"], fx["rows"], fx["seed"])
    out64, trace64 = run(stored, d, ids, am, cm, torch.float64)
    out32, _ = run(stored, d, ids, am, cm, torch.float32)
    arrays = [
        ("input_ids", ids.numpy().astype(np.int32)),
        ("attention_mask", am.numpy().astype(np.int32)),
        ("completion_mask", cm.numpy().astype(np.int32)),
        ("labels", make_labels(ids, cm).numpy().astype(np.int32)),
        ("rope_inv_freq", rope_inv_freq(d.HD, d.theta).numpy()),
    ]
    arrays += [(f"f64/{k}", v) for k, v in out64.items()]
    arrays += [(f"f32/{k}", v) for k, v in out32.items()]
    header = {
        "name": fx["name"],
        "checkpoint": f"e2e/fixtures/checkpoints/{fx['name']}",
        "storage": fx["storage"],
        "config": cfg,
        "model": d.as_json(),
        "batch": {"B": int(ids.shape[0]), "T": int(ids.shape[1])},
        "generator": "/usr/bin/python3 scripts/goldens/gemma2_reference.py",
        "notes": [
            "transformers Gemma2ForCausalLM, eager attention; f64/* exact math in float64, f32/* transformers' f32 path",
            "weights are the stored checkpoint values (BF16 widened exactly to f32/f64)",
            "logits are after the final softcap; logp[b,k] = log p(ids[b,k+1] | logits[b,k]) where labels[b,k] >= 0, else 0",
            "lse, lsp2, logits, hidden.*, final_norm at padding positions (attention_mask = 0) are implementation-defined",
            "grad/<name> = d(objective)/d(param), objective = sum of seq_logp; embed grad includes the tied lm_head use",
        ],
    }
    if write:
        path = os.path.join(GOLDEN_DIR, fx["name"] + ".bin")
        write_golden(path, header, arrays)
        head_back, back = read_golden(path)  # round trip of the golden file itself
        for name, a in arrays:
            assert back[name].dtype.str[1:] == a.dtype.str[1:] and np.array_equal(back[name], a), name
        assert head_back["config"] == cfg
    diff = {k: float(np.max(np.abs(out64[k] - out32[k].astype(np.float64)))) for k in ("logits", "seq_logp")}
    gdiff = max(float(np.max(np.abs(out64[k] - out32[k]))) / (float(np.max(np.abs(out64[k]))) + 1e-30)
                for k in out64 if k.startswith("grad/"))
    line = (f"{fx['name']}: {len(files)} files, {sum(t.numel() for t in params.values())} params, "
            f"seq_logp {np.array2string(out64['seq_logp'], precision=4)}, f32 vs f64: logits {diff['logits']:.1e}, "
            f"seq_logp {diff['seq_logp']:.1e}, grads (rel to max) {gdiff:.1e}\n    softcap reach: {softcap_reach(trace64, d, am)}")
    return line, stored, d, (ids, am, cm), out64


# ============================================================================ self-checks


class Checks:
    def __init__(self):
        self.rows, self.failed = [], 0

    def close(self, name, got, want, tol):
        err = float(torch.max(torch.abs(torch.as_tensor(got, dtype=torch.float64) - torch.as_tensor(want, dtype=torch.float64))))
        ok = err <= tol
        self.failed += not ok
        self.rows.append(f"  {'ok ' if ok else 'FAIL'} {name:<58} max|diff| {err:.2e} (tol {tol:.0e})")

    def true(self, name, cond, detail=""):
        self.failed += not cond
        self.rows.append(f"  {'ok ' if cond else 'FAIL'} {name:<58} {detail}")


def check_ops(ck):
    g = torch.Generator().manual_seed(7)
    # RMSNorm vs a per-row Python loop
    x = torch.randn(3, 5, 11, generator=g, dtype=torch.float64) * 3
    w = torch.randn(11, generator=g, dtype=torch.float64) * 0.3
    want = torch.empty_like(x)
    for i in range(3):
        for j in range(5):
            row = [float(v) for v in x[i, j]]
            r = 1.0 / math.sqrt(sum(v * v for v in row) / len(row) + 1e-6)
            want[i, j] = torch.tensor([v * r * (1 + float(w[c])) for c, v in enumerate(row)], dtype=torch.float64)
    ck.close("rms_norm vs loop (f64)", rms_norm(x, w, 1e-6), want, 1e-13)
    ck.close("rms_norm f32 input vs f64", rms_norm(x.float(), w.float(), 1e-6), want, 1e-5)

    # inv_freq: f32 rounding of θ^(−2i/HD); RoPE as complex multiplication of (x_i, x_{i+HD/2}) by e^{iφ}
    for HD, theta in ((8, 10000.0), (12, 10000.0), (16, 1000.0)):
        exact = torch.tensor([theta ** (-2 * i / HD) for i in range(HD // 2)], dtype=torch.float64)
        ck.close(f"rope_inv_freq HD={HD} θ={theta:g} vs θ^(-2i/HD)", rope_inv_freq(HD, theta), exact, 2e-7)
        T = 7
        xq = torch.randn(2, 3, T, HD, generator=g, dtype=torch.float64)
        cos, sin = rope_cos_sin(T, rope_inv_freq(HD, theta), torch.float64)
        half = HD // 2
        zc = torch.complex(xq[..., :half], xq[..., half:])
        ang = torch.arange(T, dtype=torch.float64)[:, None] * rope_inv_freq(HD, theta).double()[None, :]
        zr = zc * torch.polar(torch.ones_like(ang), ang)
        ck.close(f"apply_rope HD={HD} vs complex rotation", apply_rope(xq, cos, sin), torch.cat([zr.real, zr.imag], -1), 1e-13)

    # gelu tanh (PyTorch approximate="tanh") vs the formula
    xs = torch.linspace(-8, 8, 101, dtype=torch.float64)
    ck.close("gelu(approximate=tanh) vs 0.5x(1+tanh(√(2/π)(x+0.044715x³)))", F.gelu(xs, approximate="tanh"),
             0.5 * xs * (1 + torch.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs ** 3))), 1e-14)

    # attention: every (batch, head) against explicit loops with −inf masking, GQA, softcap, window, padding
    class D:  # a minimal dims object
        NH, KVH, G, HD, qpas, attn_cap, C = 6, 2, 3, 4, 5.0, 2.5, 7
    d = D()
    B, T, W = 2, 7, 3
    x = torch.randn(B, T, d.C, generator=g, dtype=torch.float64)
    Wq = torch.randn(d.NH * d.HD, d.C, generator=g, dtype=torch.float64)
    Wk = torch.randn(d.KVH * d.HD, d.C, generator=g, dtype=torch.float64)
    Wv = torch.randn(d.KVH * d.HD, d.C, generator=g, dtype=torch.float64)
    Wo = torch.randn(d.C, d.NH * d.HD, generator=g, dtype=torch.float64)
    am = torch.tensor([[1] * T, [1] * 5 + [0] * 2])
    cos, sin = rope_cos_sin(T, rope_inv_freq(d.HD, 10000.0), torch.float64)
    for window in (None, W):
        tr = {}
        out = attention(x, Wq, Wk, Wv, Wo, d, cos, sin, allowed_keys(am, window), tr)
        heads = torch.zeros(B, d.NH, T, d.HD, dtype=torch.float64)
        for b in range(B):
            for hh in range(d.NH):
                j = hh // d.G
                for qi in range(T):
                    if am[b, qi] == 0:  # padding query: implementation-defined, copy ours
                        heads[b, hh, qi] = tr["heads"][b, hh, qi]
                        continue
                    qv = apply_rope((x[b, qi] @ Wq.T)[hh * d.HD:(hh + 1) * d.HD].view(1, 1, 1, -1), cos[qi], sin[qi])[0, 0, 0]
                    sc = []
                    for ki in range(T):
                        visible = ki <= qi and am[b, ki] == 1 and (window is None or ki > qi - window)
                        if not visible:
                            sc.append(-math.inf)
                            continue
                        kv = apply_rope((x[b, ki] @ Wk.T)[j * d.HD:(j + 1) * d.HD].view(1, 1, 1, -1), cos[ki], sin[ki])[0, 0, 0]
                        s = float(qv @ kv) / math.sqrt(d.qpas)
                        sc.append(d.attn_cap * math.tanh(s / d.attn_cap))
                    m = max(sc)
                    e = [math.exp(s - m) for s in sc]
                    for ki in range(T):
                        if e[ki] > 0:
                            heads[b, hh, qi] += e[ki] / sum(e) * (x[b, ki] @ Wv.T)[j * d.HD:(j + 1) * d.HD]
        ck.close(f"attention heads vs loops (window={window})", tr["heads"], heads, 1e-12)
        ck.close(f"attention o_proj vs loops (window={window})", out,
                 F.linear(heads.transpose(1, 2).reshape(B, T, -1), Wo) * am[:, :, None] + out * (1 - am[:, :, None]), 1e-12)


def numpy_forward_one(params, d, ids):
    """A second, independent forward for ONE unpadded sequence in plain numpy float64: per-token loops
    for RoPE and attention, −inf masking, no batching. Returns capped logits [n, V]."""
    P = {k: v.double().numpy() for k, v in params.items()}
    n = len(ids)
    E = P["model.embed_tokens.weight"]

    def norm(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + d.eps) * (1 + w)

    inv = rope_inv_freq(d.HD, d.theta).double().numpy()
    half = d.HD // 2

    def rope(v, pos):  # v: [HD]
        out = np.empty_like(v)
        for i in range(half):
            c, s = math.cos(pos * inv[i]), math.sin(pos * inv[i])
            out[i] = v[i] * c - v[i + half] * s
            out[i + half] = v[i + half] * c + v[i] * s
        return out

    h = E[ids] * math.sqrt(d.C)
    for li in range(d.L):
        p = lambda name: P[f"model.layers.{li}.{name}.weight"]  # noqa: E731
        a = norm(h, p("input_layernorm"))
        q, k, v = a @ p("self_attn.q_proj").T, a @ p("self_attn.k_proj").T, a @ p("self_attn.v_proj").T
        o = np.zeros((n, d.NH * d.HD))
        for hh in range(d.NH):
            j = hh // d.G
            for t in range(n):
                qv = rope(q[t, hh * d.HD:(hh + 1) * d.HD], t)
                lo = t - d.W + 1 if d.sliding[li] else 0
                keys = range(max(0, lo), t + 1)
                sc = np.array([d.attn_cap * math.tanh(qv @ rope(k[s, j * d.HD:(j + 1) * d.HD], s) / math.sqrt(d.qpas) / d.attn_cap)
                               for s in keys])
                pr = np.exp(sc - sc.max())
                pr /= pr.sum()
                o[t, hh * d.HD:(hh + 1) * d.HD] = sum(pr[m] * v[s, j * d.HD:(j + 1) * d.HD] for m, s in enumerate(keys))
        h = h + norm(o @ p("self_attn.o_proj").T, p("post_attention_layernorm"))
        m = norm(h, p("pre_feedforward_layernorm"))
        gt = m @ p("mlp.gate_proj").T
        gelu = 0.5 * gt * (1 + np.tanh(math.sqrt(2 / math.pi) * (gt + 0.044715 * gt ** 3)))
        h = h + norm((gelu * (m @ p("mlp.up_proj").T)) @ p("mlp.down_proj").T, p("post_feedforward_layernorm"))
    z = norm(h, P["model.norm.weight"]) @ E.T
    return d.final_cap * np.tanh(z / d.final_cap)


def check_model(ck, fx, stored, d, batch, out64):
    """Whole-model checks on one fixture (float64)."""
    ids, am, cm = batch
    name = fx["name"]
    params = OrderedDict((n, t.double()) for n, t in stored.items())
    logits = torch.from_numpy(out64["logits"])
    # 1. independent numpy forward and padding invariance: each row alone, unpadded (B = 1, T = n)
    worst_np, worst_pad, worst_seq = 0.0, 0.0, 0.0
    for b in range(ids.shape[0]):
        n = int(am[b].sum())
        z_np = numpy_forward_one(params, d, ids[b, :n].numpy())
        worst_np = max(worst_np, float(np.max(np.abs(z_np - out64["logits"][b, :n]))))
        one = forward(params, d, ids[b:b + 1, :n], am[b:b + 1, :n])
        worst_pad = max(worst_pad, float(torch.max(torch.abs(one[0] - logits[b, :n]))))
        _, seq1, _, _ = logprob_terms(one, make_labels(ids[b:b + 1, :n], cm[b:b + 1, :n]))
        worst_seq = max(worst_seq, abs(float(seq1[0]) - float(out64["seq_logp"][b])))
    ck.close(f"{name}: logits vs numpy per-token forward", worst_np, 0.0, 1e-10)
    ck.close(f"{name}: padded batch == each row alone (logits)", worst_pad, 0.0, 1e-11)
    ck.close(f"{name}: padded batch == each row alone (seq_logp)", worst_seq, 0.0, 1e-11)
    # 2. the sliding window is active (T > W): a huge window changes the logits
    wide = Dims(dict(fx["config"], sliding_window=10 ** 6))
    delta = float(torch.max(torch.abs(forward(params, wide, ids, am) - logits)[am.bool()]))
    ck.true(f"{name}: sliding window changes real-position logits", delta > 1e-3, f"max change {delta:.2e}")
    # 3. logp, lse, lsp2 vs direct formulas per row in numpy
    z = out64["logits"]
    lab = make_labels(ids, cm).numpy()
    lse_np = np.log(np.sum(np.exp(z), axis=-1))
    p = np.exp(z - lse_np[..., None])
    lsp2_np = np.log(np.sum(p * p, axis=-1))
    logp_np = np.where(lab >= 0, np.take_along_axis(z, np.maximum(lab, 0)[..., None], -1)[..., 0] - lse_np, 0.0)
    ck.close(f"{name}: lse / lsp2 / logp vs numpy", np.concatenate([lse_np - out64["lse"], lsp2_np - out64["lsp2"],
                                                                     logp_np - out64["logp"]]), 0.0, 1e-12)
    # 4. central finite differences on a few entries of every parameter tensor
    g = torch.Generator().manual_seed(99)
    labels = make_labels(ids, cm)

    def objective(ps):
        return float(logprob_terms(forward(ps, d, ids, am), labels)[1].sum())

    worst = 0.0
    for pname, t in params.items():
        grad = out64[f"grad/{pname}"].reshape(-1)
        for _ in range(3):
            idx = int(torch.randint(t.numel(), (1,), generator=g))
            eps = 1e-5
            saved = float(t.view(-1)[idx])
            t.view(-1)[idx] = saved + eps
            up = objective(params)
            t.view(-1)[idx] = saved - eps
            dn = objective(params)
            t.view(-1)[idx] = saved
            fd = (up - dn) / (2 * eps)
            worst = max(worst, abs(fd - grad[idx]) / max(1.0, abs(fd)))
    ck.close(f"{name}: grads vs central differences (3 entries/tensor)", worst, 0.0, 1e-6)


def check_gradcheck(ck):
    """torch.autograd.gradcheck of the whole model (every parameter, float64) on a micro config."""
    cfg = gemma2_config(V=11, C=8, FF=12, L=2, NH=2, KVH=1, HD=4, W=2, qpas=4, storage="F32", new_style=False,
                        attn_cap=5.0, final_cap=3.0)  # small caps so that tanh bends at micro scale
    d = Dims(cfg)
    params = init_params(d, 5, {"embed": 1.0, "qk": 0.8, "v": 0.4, "o": 0.4, "gate_up": 0.5, "down": 0.4, "norm": 0.3})
    ids, am, cm = make_batch(d, 5, [(2, 3), (1, 2)], 5)
    labels = make_labels(ids, cm)
    names = list(params)

    def f(*ts):
        logp, seq, lse, lsp2 = logprob_terms(forward(dict(zip(names, ts)), d, ids, am), labels)
        return seq, lse[am.bool()], lsp2[am.bool()]  # several outputs: the full Jacobian is checked

    inputs = tuple(t.double().requires_grad_(True) for t in params.values())
    ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, raise_exception=False)
    ck.true("gradcheck: whole micro model, all params (f64)", ok, f"{sum(t.numel() for t in inputs)} inputs")


def check_formats(ck):
    # bf16 round-to-nearest-even vs torch's float32 -> bfloat16 conversion (also RNE), incl. ties/specials
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(4000, generator=g) * 10 ** torch.randint(-30, 30, (4000,), generator=g).float(),
                   torch.tensor([0.0, -0.0, 1.0, 1.00390625, 1.01171875, -1.00390625, 3.3895314e38, 3.4e38,
                                 float("inf"), -float("inf"), 1e-40, -1e-45])])
    # 1.00390625 = 1 + 2^-8 is a tie -> even (1.0); 1.01171875 = 1 + 3·2^-8 is a tie -> 1 + 2^-6
    mine = f32_to_bf16_bits(x.numpy())
    theirs = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    ck.true("f32_to_bf16_bits == torch .to(bfloat16) (RNE)", np.array_equal(mine, theirs),
            f"{int(np.sum(mine != theirs))} of {mine.size} differ")
    nanbits = f32_to_bf16_bits(np.array([np.nan], dtype=np.float32))
    ck.true("bf16 of NaN stays NaN", bool(np.isnan(bf16_bits_to_f32(nanbits))[0]))
    ck.true("bf16 decode is exact widening", np.array_equal(bf16_bits_to_f32(theirs), x.to(torch.bfloat16).float().numpy()))

    # safetensors writer: layout details, then a read-back of a mixed-dtype file
    tensors = {
        "b.bf16": ("BF16", (3,), f32_to_bf16_bits(np.array([1.5, -2.0, 3.25], np.float32)).tobytes()),
        "a.f32": ("F32", (2, 2), np.arange(4, dtype="<f4").tobytes()),
        "c.f32": ("F32", (1,), np.array([7.0], "<f4").tobytes()),
    }
    blob = safetensors_bytes(tensors)
    (n,) = struct.unpack_from("<Q", blob, 0)
    head = json.loads(blob[8:8 + n])
    ck.true("safetensors: header length multiple of 8, space-padded", n % 8 == 0 and blob[8:8 + n].rstrip(b" ").endswith(b"}"))
    ck.true("safetensors: order = alignment desc, then name",
            [k for k, _ in sorted(((k, v) for k, v in head.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"])]
            == ["a.f32", "c.f32", "b.bf16"] and head["__metadata__"] == {"format": "pt"})
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"gemma2_reference_check_{os.getpid()}.safetensors")
    with open(tmp, "wb") as f:
        f.write(blob)
    back, dts, _ = read_safetensors(tmp)
    os.remove(tmp)
    ck.true("safetensors: read back values and dtypes", np.array_equal(back["b.bf16"], [1.5, -2.0, 3.25])
            and np.array_equal(back["a.f32"], np.arange(4).reshape(2, 2)) and dts["b.bf16"] == "BF16")
    # shard planner: greedy in order, exact count
    plan = shard_plan(["x", "y", "z", "w"], {"x": 10, "y": 4, "z": 4, "w": 4}, 3)
    ck.true("shard_plan: greedy in state-dict order", plan == [["x"], ["y", "z"], ["w"]], str(plan))


def check_checkpoints(ck):
    """Files on disk: round trip of every fixture checkpoint (values = rounded originals)."""
    for fx in FIXTURES:
        d = Dims(fx["config"])
        orig = init_params(d, fx["seed"], fx["scales"])
        _, stored, dtypes = load_checkpoint(os.path.join(CHECKPOINT_DIR, fx["name"]))
        if fx["storage"] == "BF16":
            want = {n: torch.from_numpy(bf16_bits_to_f32(f32_to_bf16_bits(t.numpy())).reshape(t.shape)) for n, t in orig.items()}
            rel = max(float(torch.max(torch.abs(stored[n] - orig[n]) / (torch.abs(orig[n]) + 1e-30))) for n in orig)
            ck.true(f"{fx['name']}: bf16 rounding error ≤ 2^-8 relative (unit roundoff)", rel <= 2 ** -8, f"max {rel:.2e}")
        else:
            want = orig
        same = all(torch.equal(stored[n], want[n]) for n in orig)
        ck.true(f"{fx['name']}: checkpoint reads back bit-exact", same and set(dtypes.values()) == {fx["storage"]})


# ============================================================================ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--check", action="store_true", help="run the self-checks only; write no files")
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic reductions -> byte-identical fixtures on every run
    torch.manual_seed(0)

    ck = Checks()
    check_ops(ck)
    check_formats(ck)
    check_gradcheck(ck)

    if not args.check:
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        os.makedirs(CHECKPOINT_DIR, exist_ok=True)
    print("fixtures:")
    for fx in FIXTURES:
        line, stored, d, batch, out64 = build_fixture(fx, write=not args.check)
        print("  " + line)
        check_model(ck, fx, stored, d, batch, out64)
    if not args.check:
        check_checkpoints(ck)
    print("self-checks:")
    print("\n".join(ck.rows))

    if not args.check:
        print("files:")
        total = 0
        for base in (CHECKPOINT_DIR, GOLDEN_DIR):
            for dirpath, _, files in sorted(os.walk(base)):
                for f in sorted(files):
                    p = os.path.join(dirpath, f)
                    if f.endswith((".bin", ".safetensors", ".json")):
                        size = os.path.getsize(p)
                        total += size
                        sha = hashlib.sha256(open(p, "rb").read()).hexdigest()[:12]
                        print(f"  {os.path.relpath(p, ROOT):<70} {size:>9} B  sha256 {sha}")
        print(f"  total {total / 1e6:.2f} MB")
    if ck.failed:
        print(f"{ck.failed} self-check(s) FAILED", file=sys.stderr)
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()
