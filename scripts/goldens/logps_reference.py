#!/usr/bin/env python3
"""PyTorch reference for `prefstudio logps` on ANY Gemma-2 checkpoint directory.

    /usr/bin/python3 scripts/goldens/logps_reference.py --model DIR --pairs FILE [--dtype float64|float32]

FILE uses token ids ({"pairs": [{"prompt": [ids], "chosen": [ids], "rejected": [ids]}]}); the output
is the same JSON as `prefstudio logps` (logp, tokens, token_logps, token_log_sum_p2 per side), computed
with the eager Gemma-2 forward of gemma2_reference.py (independent of the engine). Compare the two
JSON outputs number by number with a tolerance (e2e/cli.test.ts does, against the outputs stored in
e2e/fixtures/cli/ — see the README there).

The checkpoint is read as transformers reads it:
- config.json keys that are missing take the class defaults of transformers' Gemma2Config (the
  gemma-2-2b values, spec gemma2-and-formats.md §1.1); keys present with null stay null (a null
  softcap switches it off). Like transformers, the legacy `sliding_window_size` is not read.
- tensors may be F32, BF16 or F16 (widened exactly to float32), in model.safetensors or in the shards
  listed by model.safetensors.index.json; the tied lm_head.weight copy, if present, is ignored.
"""
import argparse
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma2_reference import Dims, bf16_bits_to_f32, forward, logprob_terms, param_shapes  # noqa: E402

# transformers' Gemma2Config.__init__ defaults (models/gemma2/configuration_gemma2.py).
GEMMA2_CONFIG_DEFAULTS = {
    "vocab_size": 256000,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-6,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
    "tie_word_embeddings": True,
    "rope_theta": 10000.0,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "final_logit_softcapping": 30.0,
    "attn_logit_softcapping": 50.0,
}

ST_DTYPES = {"F32": ("<f4", 4), "BF16": ("<u2", 2), "F16": ("<f2", 2)}


def with_transformers_defaults(config):
    """config.json as Gemma2Config sees it: every missing key at its class default."""
    out = dict(GEMMA2_CONFIG_DEFAULTS)
    out.update(config)
    # Gemma2Config reads `hidden_activation` only (a lone legacy `hidden_act` does not change it).
    if "sliding_window" not in config and "sliding_window_size" in config:
        print(f"note: config.json has sliding_window_size {config['sliding_window_size']} but no sliding_window; "
              f"transformers ignores the legacy key and uses {out['sliding_window']}", file=sys.stderr)
    return out


def read_safetensors(path):
    """{name: float32 array} of every F32/BF16/F16 tensor in a safetensors file (others refused)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    if n > 100_000_000 or 8 + n > len(buf):
        sys.exit(f"{path}: header length {n} does not fit the {len(buf)}-byte file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        if info["dtype"] not in ST_DTYPES:
            sys.exit(f"{path}: tensor {name} is {info['dtype']}; this reference reads F32, BF16 and F16")
        np_dtype, size = ST_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        if e - b != int(np.prod(shape, dtype=np.int64)) * size:
            sys.exit(f"{path}: tensor {name} spans {e - b} bytes, its dtype and shape need {int(np.prod(shape)) * size}")
        raw = np.frombuffer(buf[8 + n + b:8 + n + e], dtype=np_dtype)
        arr = bf16_bits_to_f32(raw) if info["dtype"] == "BF16" else raw.astype(np.float32)
        out[name] = arr.reshape(shape)
    return out


def load_any_checkpoint(ckpt_dir):
    """(config with transformers' defaults, OrderedDict name -> f32 tensor in state-dict order)."""
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        config = with_transformers_defaults(json.load(f))
    index_path = os.path.join(ckpt_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for fname in files:
        tensors.update(read_safetensors(os.path.join(ckpt_dir, fname)))
    params = OrderedDict()
    for name, shape in param_shapes(Dims(config)).items():
        if name not in tensors:
            sys.exit(f"{ckpt_dir}: tensor {name} is missing")
        if tuple(tensors[name].shape) != shape:
            sys.exit(f"{ckpt_dir}: tensor {name} has shape {tensors[name].shape}, config.json gives {shape}")
        params[name] = torch.from_numpy(tensors[name].copy())
    return config, params


def side(params, d, prompt, completion, dtype):
    ids = torch.tensor([prompt + completion], dtype=torch.int64)
    am = torch.ones_like(ids)
    with torch.no_grad():
        z = forward({k: v.to(dtype) for k, v in params.items()}, d, ids, am)
    labels = torch.full_like(ids, -100)
    for i in range(len(completion)):
        labels[0, len(prompt) + i - 1] = completion[i]
    logp, seq, _lse, lsp2 = logprob_terms(z, labels)
    pos = [len(prompt) + i - 1 for i in range(len(completion))]
    return {
        "logp": float(seq[0]),
        "tokens": len(completion),
        "token_logps": [float(logp[0, p]) for p in pos],
        "token_log_sum_p2": [float(lsp2[0, p]) for p in pos],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    config, params = load_any_checkpoint(a.model)
    d = Dims(config)
    dtype = getattr(torch, a.dtype)
    with open(a.pairs) as f:
        pairs = json.load(f)["pairs"]
    out = []
    for i, p in enumerate(pairs):
        if not p["prompt"]:
            sys.exit(f"pairs[{i}]: empty prompt")
        out.append({k: side(params, d, p["prompt"], p[k], dtype) for k in ("chosen", "rejected")})
    print(json.dumps({"pairs": out}))


if __name__ == "__main__":
    main()
