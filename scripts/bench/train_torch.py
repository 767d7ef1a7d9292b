#!/usr/bin/python3
"""
PyTorch-on-the-CPU reference point for `npm run bench` (bench/train.ts): times Gemma-2 preference
training steps (forward, backward, global-norm clipping, AdamW) on exactly the weights and batches
the bench gives it, and prints one JSON object on stdout.

    /usr/bin/python3 scripts/bench/train_torch.py --dir DIR

DIR (written by bench/train.ts):
  config.json    the model's Hugging Face config
  weights.bin    f32 little-endian, tensors back to back
  weights.json   [{"name", "shape", "offset" (in floats)}]
  batches.json   {"batches": [{"R", "T", "ids", "attention_mask", "labels", "ref"}], flat row-major
                 [R, T] lists, rows [0, R/2) chosen and [R/2, R) rejected, labels −100 = ignored,
                 ref = the reference sums per row},
                 "epochs": E, "beta", "lr", "betas", "eps", "weight_decay", "max_grad_norm" (or null)}
Every batch is run E times in order (epoch 1 = warm-up, later epochs are timed), as the bench runs
our trainer and tfjs. Output: {"torch", "threads", "linear", "steps": [{"ms", "tokens", "loss",
"grad_norm"}], "warmup_steps", "measured_steps", "tokens_per_s", "step_ms", "first_step_ms",
"loss_step1", "grad_norm_step1"}.

The model is the eager transformers Gemma-2 of scripts/goldens/gemma2_reference.py (forward), with
every projection routed through oneDNN as scripts/demo/train_demo.py does (Debian's torch runs
F.linear on a reference BLAS that is 10-30x slower: that would not be a fair reference point).
Loss: DPO sigmoid, -log sigmoid(beta((S_w - R_w) - (S_l - R_l))), mean over pairs. AdamW with the HF
Trainer's groups (no decay on norm weights); torch.nn.utils.clip_grad_norm_.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "goldens"))
sys.path.insert(0, os.path.join(ROOT, "scripts", "demo"))
import gemma2_reference as ref  # noqa: E402
from train_demo import onednn_linear  # noqa: E402


def load(dir_):
    with open(os.path.join(dir_, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(dir_, "weights.json")) as f:
        manifest = json.load(f)
    flat = np.fromfile(os.path.join(dir_, "weights.bin"), dtype="<f4")
    params = {}
    for t in manifest:
        n = int(np.prod(t["shape"]))
        params[t["name"]] = torch.from_numpy(flat[t["offset"]:t["offset"] + n].reshape(t["shape"]).copy())
    expected = ref.param_shapes(ref.Dims(config))
    if set(params) != set(expected):
        raise SystemExit(f"train_torch: weights.json names differ from the Gemma-2 state dict: {sorted(set(params) ^ set(expected))}")
    with open(os.path.join(dir_, "batches.json")) as f:
        run = json.load(f)
    return config, params, run


def tensors_of(b):
    shape = (b["R"], b["T"])
    return (torch.tensor(b["ids"], dtype=torch.int64).view(shape),
            torch.tensor(b["attention_mask"], dtype=torch.int64).view(shape),
            torch.tensor(b["labels"], dtype=torch.int64).view(shape),
            torch.tensor(b["ref"], dtype=torch.float32),
            int(sum(b["attention_mask"])))


def dpo_loss(params, d, ids, am, labels, ref_sums, beta):
    z = ref.forward(params, d, ids, am)  # [R, T, V] capped logits
    lsm = F.log_softmax(z, dim=-1)
    valid = labels >= 0
    lp = lsm.gather(-1, labels.clamp(min=0)[..., None])[..., 0] * valid  # [R, T]
    S = lp.sum(-1)  # [R]
    B = S.shape[0] // 2
    h = (S[:B] - ref_sums[:B]) - (S[B:] - ref_sums[B:])
    return -F.logsigmoid(beta * h).mean()


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU timing of Gemma-2 DPO training steps (bench reference point)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref.LINEAR = onednn_linear
    config, params32, run = load(args.dir)
    d = ref.Dims(config)
    params = {n: t.clone().requires_grad_(True) for n, t in params32.items()}
    decay = [t for n, t in params.items() if not n.endswith("norm.weight")]
    no_decay = [t for n, t in params.items() if n.endswith("norm.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": run["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=run["lr"], betas=tuple(run["betas"]), eps=run["eps"])
    batches = [tensors_of(b) for b in run["batches"]]
    steps = []
    for _ in range(run["epochs"]):
        for ids, am, labels, ref_sums, tokens in batches:
            t0 = time.perf_counter()
            loss = dpo_loss(params, d, ids, am, labels, ref_sums, run["beta"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            max_norm = run["max_grad_norm"]
            norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm if max_norm is not None else float("inf"))
            opt.step()
            loss_v, norm_v = float(loss), float(norm)
            steps.append({"ms": (time.perf_counter() - t0) * 1000, "tokens": tokens, "loss": loss_v, "grad_norm": norm_v})
    warm = len(batches)
    timed = steps[warm:]
    secs = sum(s["ms"] for s in timed) / 1000
    out = {
        "torch": torch.__version__, "threads": torch.get_num_threads(), "linear": "oneDNN (conv1d)",
        "steps": steps, "warmup_steps": warm, "measured_steps": len(timed),
        "tokens_per_s": sum(s["tokens"] for s in timed) / secs if secs > 0 else None,
        "step_ms": 1000 * secs / len(timed) if timed else None,
        "first_step_ms": steps[0]["ms"], "loss_step1": steps[0]["loss"], "grad_norm_step1": steps[0]["grad_norm"],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
