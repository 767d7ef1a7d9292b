#!/usr/bin/env python3
"""PyTorch reference for `prefstudio logps` on ANY Gemma-2 checkpoint directory.

    /usr/bin/python3 scripts/goldens/logps_reference.py --model DIR --pairs FILE [--dtype float64|float32]

FILE uses token ids ({"pairs": [{"prompt": [ids], "chosen": [ids], "rejected": [ids]}]}); the output
is the same JSON as `prefstudio logps` (logp, tokens, token_logps, token_log_sum_p2 per side), computed
with the eager Gemma-2 forward of gemma2_reference.py (independent of the engine). Compare them with
scripts/compare_logps.mjs or any JSON diff with a tolerance.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma2_reference import Dims, forward, load_checkpoint, logprob_terms  # noqa: E402


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
    config, params, _ = load_checkpoint(a.model)
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
