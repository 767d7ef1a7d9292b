#!/usr/bin/python3
"""
Builds PrefStudio's built-in demo: a tiny Gemma-2 chat model trained on a small question-answering
task, and a preference set whose preference is visible in the model's generations.

    /usr/bin/python3 scripts/demo/train_demo.py                 # everything, ~5–8 min on 2 CPU cores
    /usr/bin/python3 scripts/demo/train_demo.py --no-dpo-check  # skip the closing DPO sanity run

Use Debian's /usr/bin/python3 (torch 1.13 CPU + numpy) and Node (for the tokenizer). Nothing else.
Deterministic: fixed seeds, 2 torch threads; a second run on the same machine writes the same bytes
(the oneDNN kernels are chosen by the CPU's ISA, so another CPU may give other last bits).

What it does
  1. Task text (scripts/demo/task.ts) tokenized by the project's own tokenizer and TRL pair builder
     (scripts/demo/task_io.ts → src/engine/data), so Python trains on the ids the studio will see.
     381 questions (plus / minus / times / color / animal); each has a GOOD answer (full sentence,
     correct: "7 plus 5 is 12.") and a BAD one (a wrong guess: "I think it is 13.").
  2. SFT data: every question, answered GOOD with probability p and BAD with 1 − p, where p is 0.75
     for half of the questions and 0.25 for the other half (seeded, balanced per family). So the
     base model answers some questions well and some badly — a visible mix to fix.
  3. A tiny Gemma-2 (real architecture: GQA, sliding window shorter than the sequences on even
     layers, both softcaps, tied embeddings) trained with cross-entropy on the assistant tokens, in
     float32 with AdamW, through the PyTorch reference forward of scripts/goldens/gemma2_reference.py.
  4. Preferences (TRL conversational format): chosen = GOOD, rejected = BAD; 331 train rows and 50
     held-out test rows (disjoint questions, stratified by family and by p).
  5. Writes public/demo/model (Hugging Face layout, bf16, 2 shards), public/demo/preferences/*.jsonl,
     public/demo/samples.json and public/demo/README.md, then checks them: the checkpoint is read
     back and re-evaluated (bf16 weights vs the f32 training weights), samples are decoded again by
     the TypeScript tokenizer, log-probs of chosen vs rejected on the test split are measured, and
     (unless --no-dpo-check) a short DPO run in PyTorch shows that preference training flips the
     held-out generations to the GOOD style.

Dimension letters as in gemma2_reference.py: B batch, T sequence length, V vocab, C hidden size,
FF MLP width, L layers, NH query heads, KVH kv heads, HD head dim, W sliding window.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "goldens"))
import gemma2_reference as ref  # noqa: E402  (the Gemma-2 forward, bf16 + safetensors writer/reader)

DEMO_DIR = os.path.join(ROOT, "public", "demo")
MODEL_DIR = os.path.join(DEMO_DIR, "model")
PREF_DIR = os.path.join(DEMO_DIR, "preferences")
COMMAND = "/usr/bin/python3 scripts/demo/train_demo.py"

SEED = 20240607
THREADS = 2  # fixed: results depend on the thread count (reduction order), not on the machine's cores

# ---------------------------------------------------------------- model (Gemma-2 shape, scaled down)
# Like gemma-2-2b: GQA with NH/KVH = 2, query_pre_attn_scalar = HD, softcaps 50 / 30, even layers
# sliding. W = 16 is shorter than every sequence (36…50 tokens) and than every prompt (21…29).
MODEL = dict(C=128, FF=512, L=4, NH=4, KVH=2, HD=32, W=16)

# ---------------------------------------------------------------- training
SFT = dict(
    steps=1200,        # optimizer steps
    batch=32,          # sequences per step (questions drawn uniformly, style drawn with p)
    lr=2e-3,           # AdamW peak learning rate
    warmup=50,         # linear warmup steps, then cosine decay to lr · min_lr_ratio
    min_lr_ratio=0.05,
    betas=(0.9, 0.98),
    weight_decay=0.01,  # on matrices only (not on RMSNorm weights)
    clip=1.0,          # global gradient-norm clip
    init_std=0.02,     # N(0, 0.02²) for every matrix (transformers' initializer_range); norms 0
)
SHORT = 39  # SFT micro-batch split: sequences up to this many tokens go together
P_GOOD = (0.25, 0.75)  # the two SFT probabilities of the GOOD answer, half of the questions each
N_TEST = 50            # held-out preference rows
MAX_NEW_TOKENS = 24

# The closing DPO sanity check (reported in the README, no other output): sigmoid DPO from the stored
# model, reference = the stored model, one epoch over the train split, at a learning rate that works
# and at one that is too high (the policy overshoots into "result − 1" answers: every rejected answer
# is the result + 1, so DPO learns to push the numbers down).
DPO = dict(beta=0.1, batch=16, epochs=1, lrs=(3e-5, 1e-4))


# ============================================================================ helpers


def log(msg):
    print(msg, flush=True)


def onednn_linear(x, W):
    """x · Wᵀ as a 1×1 convolution: torch routes f32 conv1d through oneDNN (multi-threaded, AVX2),
    ~10–30× faster here than Debian's reference BLAS behind F.linear; same math, other summation
    order. x: [..., in], W: [out, in] -> [..., out] (contiguous)."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])  # [N, in]
    y = F.conv1d(x2.t().unsqueeze(0), W.unsqueeze(-1))  # [1, out, N]
    return y.squeeze(0).t().reshape(*shape[:-1], W.shape[0]).contiguous()


def sha12(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def run_node(args, stdin=None):
    """node --import tsx <args> from the repo root; returns stdout."""
    node = shutil.which("node")
    if node is None:
        sys.exit("train_demo: `node` not found. Install Node.js and run `npm install` in the repo root first.")
    r = subprocess.run([node, "--import", "tsx", *args], cwd=ROOT, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"train_demo: node {' '.join(args)} failed (exit {r.returncode}):\n{r.stderr}\n"
                 "hint: run `npm install` in the repo root (tsx and the tokenizer packages are dependencies)")
    return r.stdout


class Vocab:
    """Decodes ids of the demo tokenizer (BPE pieces, "▁" = space, <0xNN> byte fallback)."""

    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        self.piece = {i: p for p, i in model["vocab"].items()}
        for t in tokenizer_json["added_tokens"]:
            self.piece[t["id"]] = t["content"]

    def decode(self, ids):
        out, pending = [], bytearray()
        for i in ids:
            p = self.piece[i]
            if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
                pending.append(int(p[3:5], 16))
                continue
            if pending:
                out.append(pending.decode("utf-8", errors="replace"))
                pending = bytearray()
            out.append(p.replace("\u2581", " "))
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)


# ============================================================================ data


def load_task(tmpdir):
    """Task items tokenized by the TypeScript side (see scripts/demo/task_io.ts)."""
    path = os.path.join(tmpdir, "task.json")
    log(run_node(["scripts/demo/task_io.ts", "dump", path]).strip())
    with open(path) as f:
        return json.load(f)


def plan_data(items, rng):
    """p_good per question and the preference split. Returns (p_good [N], test index list, train
    index list). Per family: a random half of the questions get P_GOOD[1], the rest P_GOOD[0]; the
    test split takes N_TEST questions in proportion to family size, half from each p."""
    fams = OrderedDict()
    for i, it in enumerate(items):
        fams.setdefault(it["family"], []).append(i)
    p_good = np.zeros(len(items))
    quota = {f: N_TEST * len(ix) / len(items) for f, ix in fams.items()}
    n_test = {f: int(round(q)) for f, q in quota.items()}
    assert sum(n_test.values()) == N_TEST, n_test
    test = []
    for fam, ix in fams.items():
        perm = rng.permutation(ix)
        hi, lo = perm[: len(perm) // 2], perm[len(perm) // 2:]
        p_good[hi], p_good[lo] = P_GOOD[1], P_GOOD[0]
        k = n_test[fam]
        test += [int(i) for i in hi[: (k + 1) // 2]] + [int(i) for i in lo[: k // 2]]
    test = sorted(test)
    train = [int(i) for i in rng.permutation([i for i in range(len(items)) if i not in set(test)])]
    return p_good, test, train


def make_batch(seqs):
    """seqs: list of (prompt_ids, completion_ids). Right-padded with <pad> = 0.
    Returns ids, attention_mask, completion_mask: [B, T] int64."""
    T = max(len(p) + len(c) for p, c in seqs)
    B = len(seqs)
    ids = torch.zeros(B, T, dtype=torch.int64)
    am = torch.zeros(B, T, dtype=torch.int64)
    cm = torch.zeros(B, T, dtype=torch.int64)
    for b, (p, c) in enumerate(seqs):
        n = len(p) + len(c)
        ids[b, :n] = torch.tensor(p + c)
        am[b, :n] = 1
        cm[b, len(p):n] = 1
    return ids, am, cm


# ============================================================================ model


def model_config(V):
    """config.json as transformers 4.4x saves a Gemma2 bf16 checkpoint (old-style keys)."""
    m = MODEL
    cfg = ref.gemma2_config(V=V, C=m["C"], FF=m["FF"], L=m["L"], NH=m["NH"], KVH=m["KVH"], HD=m["HD"], W=m["W"],
                            qpas=m["HD"], storage="BF16", new_style=False)
    del cfg["sliding_window_size"]  # only gemma-2-9b's file carries this legacy key
    cfg["max_position_embeddings"] = 512  # the demo never sees more than ~64 tokens
    return cfg


def init_params(d, gen):
    """f32 parameters in state-dict order: matrices ~ N(0, init_std²), RMSNorm weights 0 (Gemma
    stores w and multiplies by 1 + w)."""
    params = OrderedDict()
    for name, shape in ref.param_shapes(d).items():
        if name.endswith("norm.weight"):
            params[name] = torch.zeros(shape)
        else:
            params[name] = torch.randn(shape, generator=gen) * SFT["init_std"]
    return params


def lr_at(step):
    """Linear warmup, then cosine decay to lr · min_lr_ratio (step counts from 0)."""
    if step < SFT["warmup"]:
        return SFT["lr"] * (step + 1) / SFT["warmup"]
    t = (step - SFT["warmup"]) / max(1, SFT["steps"] - SFT["warmup"])
    lo = SFT["min_lr_ratio"]
    return SFT["lr"] * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t)))


def train_sft(params, d, items, p_good, gen):
    """Cross-entropy on the assistant tokens (completion ids: answer, <end_of_turn>, "\\n", <eos>).
    Each step draws `batch` questions uniformly (with replacement) and, for each, the GOOD answer
    with probability p_good[i]. Returns the loss curve [(step, loss)]."""
    for t in params.values():
        t.requires_grad_(True)
    decay = [t for n, t in params.items() if t.dim() == 2]
    no_decay = [t for n, t in params.items() if t.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": SFT["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=SFT["lr"], betas=SFT["betas"])
    p_t = torch.tensor(p_good, dtype=torch.float64)
    curve, window, t0 = [], [], time.time()
    for step in range(SFT["steps"]):
        idx = torch.randint(len(items), (SFT["batch"],), generator=gen)
        good = torch.rand(SFT["batch"], generator=gen, dtype=torch.float64) < p_t[idx]
        seqs = [(items[i]["prompt_ids"], items[i]["good_ids"] if g else items[i]["bad_ids"]) for i, g in zip(idx.tolist(), good.tolist())]
        n_tok = sum(len(c) for _, c in seqs)  # completion tokens in the step: the loss is their mean
        opt.zero_grad(set_to_none=True)
        loss = 0.0
        # Two micro-batches by length (the arithmetic rows are 36…39 tokens, the color/animal rows up
        # to 50): padding everything to the longest row would waste ~25% of the compute. Same loss.
        for group in ([s for s in seqs if len(s[0]) + len(s[1]) <= SHORT], [s for s in seqs if len(s[0]) + len(s[1]) > SHORT]):
            if not group:
                continue
            ids, am, cm = make_batch(group)
            labels = ref.make_labels(ids, cm)  # [b, T], −100 outside the completion
            z = ref.forward(params, d, ids, am)  # [b, T, V] capped logits
            part = F.cross_entropy(z.reshape(-1, d.V), labels.reshape(-1), ignore_index=-100, reduction="sum") / n_tok
            part.backward()
            loss += float(part)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        torch.nn.utils.clip_grad_norm_(list(params.values()), SFT["clip"])
        opt.step()
        window.append(float(loss))
        if (step + 1) % 50 == 0 or step == 0:
            mean = sum(window) / len(window)
            curve.append((step + 1, mean))
            log(f"  step {step + 1:5d}/{SFT['steps']}  loss {mean:.4f}  lr {lr_at(step):.2e}  {time.time() - t0:6.1f}s")
            window = []
    for t in params.values():
        t.requires_grad_(False)
    return curve


# ============================================================================ evaluation


@torch.no_grad()
def completion_stats(params, d, items, which, act=torch.float32, batch=128):
    """Teacher-forced pass over prompt ‖ completion for every item (which = "good_ids"/"bad_ids").
    Returns per item: seq_logp (TRL: Σ log p over all completion tokens incl. <end_of_turn> "\\n"
    <eos>), greedy (True iff greedy decoding from the prompt reproduces the completion up to and
    including <end_of_turn>: every such position's argmax is the label), first_p (probability of
    the completion's first token), min_gap (smallest top-1 − top-2 logit gap on those positions)."""
    P = OrderedDict((n, t.to(act)) for n, t in params.items())
    out = []
    for s in range(0, len(items), batch):
        chunk = items[s:s + batch]
        ids, am, cm = make_batch([(it["prompt_ids"], it[which]) for it in chunk])
        labels = ref.make_labels(ids, cm)
        z = ref.forward(P, d, ids, am)  # [B, T, V]
        logp, seq, _, _ = ref.logprob_terms(z, labels)
        top2 = torch.topk(z, 2, dim=-1)
        for b, it in enumerate(chunk):
            n_p, comp = len(it["prompt_ids"]), it[which]
            stop = comp.index(107) + 1  # positions up to and including <end_of_turn>
            pos = torch.arange(n_p - 1, n_p - 1 + stop)  # logits positions predicting those tokens
            want = torch.tensor(comp[:stop])
            greedy = bool(torch.all(top2.indices[b, pos, 0] == want))
            gap = float(torch.min(top2.values[b, pos, 0] - top2.values[b, pos, 1])) if greedy else 0.0
            first_p = float(torch.exp(logp[b, n_p - 1]))
            out.append({"seq_logp": float(seq[b]), "greedy": greedy, "first_p": first_p, "min_gap": gap})
    return out


@torch.no_grad()
def generate(params, d, prompt_ids, act=torch.float32):
    """Greedy decoding without a cache (the model is tiny): stops after <eos> (1) or <end_of_turn>
    (107), or after MAX_NEW_TOKENS. Returns (new ids incl. the stop token, min top-1 − top-2 gap)."""
    P = OrderedDict((n, t.to(act)) for n, t in params.items())
    ids, new, gap = list(prompt_ids), [], math.inf
    for _ in range(MAX_NEW_TOKENS):
        x = torch.tensor([ids])
        z = ref.forward(P, d, x, torch.ones_like(x))[0, -1]  # [V] logits of the next token
        top2 = torch.topk(z, 2)
        nxt = int(top2.indices[0])
        gap = min(gap, float(top2.values[0] - top2.values[1]))
        new.append(nxt)
        ids.append(nxt)
        if nxt in (1, 107):
            break
    return new, gap


def strip_stop(ids):
    """Generated ids without the final stop token (<eos> 1 / <end_of_turn> 107), if there is one."""
    return ids[:-1] if ids and ids[-1] in (1, 107) else ids


def evaluate(params, d, items, act=torch.float32):
    """Greedy outcome per item: "good", "bad" or "other" (then the actual generation), and the
    stats of both completions."""
    g = completion_stats(params, d, items, "good_ids", act)
    b = completion_stats(params, d, items, "bad_ids", act)
    res = []
    for it, sg, sb in zip(items, g, b):
        style = "good" if sg["greedy"] else "bad" if sb["greedy"] else "other"
        r = {"style": style, "good": sg, "bad": sb}
        if style == "other":
            r["generated"], _ = generate(params, d, it["prompt_ids"], act)
        res.append(r)
    return res


def summarize(items, res, subset=None):
    """Per-family counts of greedy good / bad / other, as a dict and a printable table."""
    subset = range(len(items)) if subset is None else subset
    fams = OrderedDict()
    for i in subset:
        f = fams.setdefault(items[i]["family"], {"n": 0, "good": 0, "bad": 0, "other": 0})
        f["n"] += 1
        f[res[i]["style"]] += 1
    tot = {"n": 0, "good": 0, "bad": 0, "other": 0}
    for f in fams.values():
        for k in tot:
            tot[k] += f[k]
    fams["all"] = tot
    return fams


def fmt_summary(s):
    return "\n".join(f"    {fam:<7} n={c['n']:3d}  good {c['good']:3d}  bad {c['bad']:3d}  other {c['other']:3d}" for fam, c in s.items())


# ============================================================================ outputs


def write_model(params, cfg, tokenizer_files):
    """HF layout: config.json, 2 bf16 shards + index (gemma2_reference.write_checkpoint), then the
    tokenizer files and generation_config.json (written after: write_checkpoint clears *.json)."""
    files = ref.write_checkpoint(MODEL_DIR, cfg, params, "BF16", 2)
    for f in tokenizer_files:
        shutil.copyfile(os.path.join(DEMO_DIR, f), os.path.join(MODEL_DIR, f))
    gen_cfg = {"bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 107], "pad_token_id": 0,
               "transformers_version": cfg["transformers_version"]}  # as gemma-2-2b-it's generation_config.json
    with open(os.path.join(MODEL_DIR, "generation_config.json"), "w") as f:
        f.write(json.dumps(gen_cfg, indent=2, sort_keys=True) + "\n")
    return files + list(tokenizer_files) + ["generation_config.json"]


def pref_row(it):
    return {"prompt": [{"role": "user", "content": it["question"]}],
            "chosen": [{"role": "assistant", "content": it["good"]}],
            "rejected": [{"role": "assistant", "content": it["bad"]}]}


def write_preferences(items, train, test):
    os.makedirs(PREF_DIR, exist_ok=True)
    for name, ix in (("train", train), ("test", test)):
        with open(os.path.join(PREF_DIR, f"{name}.jsonl"), "w") as f:
            for i in ix:
                f.write(json.dumps(pref_row(items[i]), ensure_ascii=False) + "\n")


def pick_samples(items, res, test, train):
    """A few prompts for samples.json: from the held-out test split, per family one the model
    answers GOOD and one it answers BAD (greedy, stored weights), with the widest top-1/top-2 gap
    (so that another correct implementation reproduces them); plus one train question per style."""
    chosen = []
    fams = OrderedDict((it["family"], None) for it in items)
    for fam in fams:
        for style in ("good", "bad"):
            cands = [i for i in test if items[i]["family"] == fam and res[i]["style"] == style]
            if cands:
                chosen.append(max(cands, key=lambda i: res[i][style]["min_gap"]))
    for style in ("good", "bad"):
        cands = [i for i in train[:40] if res[i]["style"] == style]
        if cands:
            chosen.append(cands[0])
    return chosen


@torch.no_grad()
def seq_logps_f64(params, d, it):
    """Exact (float64 activations) TRL sequence log-probs of chosen and rejected, from the stored weights."""
    P = OrderedDict((n, t.double()) for n, t in params.items())
    ids, am, cm = make_batch([(it["prompt_ids"], it["good_ids"]), (it["prompt_ids"], it["bad_ids"])])
    _, seq, _, _ = ref.logprob_terms(ref.forward(P, d, ids, am), ref.make_labels(ids, cm))
    return float(seq[0]), float(seq[1])


# ============================================================================ DPO sanity check


def dpo_check(params, d, items, train, test, lr, gen, vocab):
    """Sigmoid DPO (TRL's default loss: −log σ(β·((π_c − ref_c) − (π_r − ref_r))) on TRL sequence
    log-probs) from the stored model, reference = the same weights frozen; AdamW (no weight decay),
    constant lr. Returns held-out measurements before/after. Writes nothing."""
    ref_params = OrderedDict((n, t.clone()) for n, t in params.items())
    pol = OrderedDict((n, t.clone().requires_grad_(True)) for n, t in params.items())
    opt = torch.optim.AdamW(pol.values(), lr=lr, betas=(0.9, 0.999), weight_decay=0.0)

    def pair_logps(P, ix):
        ids, am, cm = make_batch([(items[i]["prompt_ids"], items[i][k]) for i in ix for k in ("good_ids", "bad_ids")])
        _, seq, _, _ = ref.logprob_terms(ref.forward(P, d, ids, am), ref.make_labels(ids, cm))
        return seq[0::2], seq[1::2]  # chosen, rejected: [n]

    with torch.no_grad():
        ref_c, ref_r = pair_logps(ref_params, train)
    pos = {i: k for k, i in enumerate(train)}
    steps, t0 = 0, time.time()
    loss, logits = torch.zeros(()), torch.zeros(1)
    for epoch in range(DPO["epochs"]):
        order = torch.randperm(len(train), generator=gen).tolist()
        for s in range(0, len(order), DPO["batch"]):
            ix = [train[k] for k in order[s:s + DPO["batch"]]]
            pc, pr = pair_logps(pol, ix)
            rk = torch.tensor([pos[i] for i in ix])
            logits = DPO["beta"] * ((pc - ref_c[rk]) - (pr - ref_r[rk]))
            loss = -F.logsigmoid(logits).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        log(f"  DPO epoch {epoch + 1}: last batch loss {float(loss):.4f}, reward accuracy {float((logits > 0).float().mean()):.2f}  ({time.time() - t0:.1f}s)")
    pol = OrderedDict((n, t.detach()) for n, t in pol.items())
    test_items = [items[i] for i in test]
    before, after = evaluate(ref_params, d, test_items), evaluate(pol, d, test_items)
    margin = lambda r: float(np.mean([x["good"]["seq_logp"] - x["bad"]["seq_logp"] for x in r]))  # noqa: E731
    out = {"lr": lr, "steps": steps, "before": summarize(test_items, before)["all"], "after": summarize(test_items, after)["all"],
           "margin_before": margin(before), "margin_after": margin(after), "examples": []}

    def text(it, r):
        return it["good"] if r["style"] == "good" else it["bad"] if r["style"] == "bad" else vocab.decode(strip_stop(r["generated"]))

    for k, it in enumerate(test_items):  # up to 3 changed answers, "other" ones first
        if before[k]["style"] != after[k]["style"]:
            out["examples"].append((after[k]["style"] != "other", it["question"], text(it, before[k]), text(it, after[k])))
    out["examples"] = [e[1:] for e in sorted(out["examples"], key=lambda e: e[0])[:3]]
    return out


# ============================================================================ README


def readme(ctx):
    c, m = ctx["config"], MODEL
    fam_rows = "\n".join(f"| {f} | {n} | {ctx['example'][f]['question']} | {ctx['example'][f]['good']} | {ctx['example'][f]['bad']} |"
                         for f, n in ctx["family_sizes"].items())
    curve = ", ".join(f"{s}: {l:.3f}" for s, l in ctx["curve"] if s in (1, 50, 100, 200, 300, 400, 500, 600, 800, 1000) or s == SFT["steps"])
    files = "\n".join(f"| `{f}` | {size:,} | `{sha}` |" for f, size, sha in ctx["files"])

    def table(s):
        return "\n".join(f"| {fam} | {v['n']} | {v['good']} | {v['bad']} | {v['other']} |" for fam, v in s.items())

    samples = "\n".join(f"| {s['prompt']} | {s['completion']} | {s['style']} |" for s in ctx["samples"])
    dpos = ctx.get("dpo")
    if not dpos:
        dpo_text = "Not run (`--no-dpo-check`)."
    else:
        b = dpos[0]["before"]
        rows = "\n".join(f"| {r['lr']:g} | {r['steps']} | {r['after']['good']} | {r['after']['bad']} | {r['after']['other']} | "
                         f"{r['margin_after']:+.2f} | " + "<br>".join(f"{q} {x} → {y}" for q, x, y in r["examples"]) + " |" for r in dpos)
        dpo_text = f"""Sigmoid DPO (TRL's default loss) in PyTorch, β = {DPO['beta']}, reference
model = the demo model, AdamW at a constant learning rate, {DPO['batch']} pairs per step, {DPO['epochs']} epoch over
`preferences/train.jsonl`; greedy answers on the {b['n']} held-out test questions (before: {b['good']} GOOD /
{b['bad']} BAD / {b['other']} other, mean margin log p(chosen) − log p(rejected) {dpos[0]['margin_before']:+.2f} nats):

| lr | steps | GOOD | BAD | other | margin after | changed answers (e.g.) |
|---:|---:|---:|---:|---:|---:|---|
{rows}

At the higher rate the policy overshoots: every rejected answer is the result + 1, so DPO also learns
to push numbers down and some answers become the result − 1. What the studio's trainer should
reproduce (a sanity check with these settings, not a golden)."""
    lp = ctx["test_logps"]
    return f"""# The built-in demo

What PrefStudio opens with: a tiny Gemma-2 chat model that answers short questions, sometimes well and
sometimes badly, and a preference set that prefers the good answers. Preference training (DPO, WPO, …)
on `preferences/train.jsonl` visibly turns the bad answers into good ones, on held-out questions too.

Everything here is generated; do not edit by hand. To rebuild (deterministic, ~5–8 minutes on 2 CPU
cores; Debian's `python3-torch` and Node with the repo's `npm install`):

    {COMMAND}

(`public/demo/tokenizer.json` and `tokenizer_config.json` come from
`node --import tsx scripts/demo/make_tokenizer.ts`; this script reads them and writes the rest.)

## Files

| file | bytes | sha256 (first 12) |
|---|---:|---|
{files}

- `model/`: the checkpoint in the Hugging Face layout that `save_pretrained` gives a sharded bf16
  `Gemma2ForCausalLM` (written by `gemma2_reference.write_checkpoint`): `config.json`, `model-00001-of-00002.safetensors`,
  `model-00002-of-00002.safetensors`, `model.safetensors.index.json`, `generation_config.json`, and the
  demo tokenizer (`tokenizer.json`, `tokenizer_config.json`, copies of `public/demo/tokenizer*.json`).
  No `lm_head.weight`: the embeddings are tied, as in the Hub files.
- `preferences/train.jsonl` ({ctx['n_train']} rows), `preferences/test.jsonl` ({ctx['n_test']} rows, held-out
  questions): TRL's conversational preference format, one row per line:
  `{{"prompt": [{{"role": "user", "content": …}}], "chosen": [{{"role": "assistant", …}}], "rejected": [{{"role": "assistant", …}}]}}`.
- `samples.json`: a few prompts with this model's greedy generations (bf16 weights as stored, f32
  activations), their token ids, the smallest top-1/top-2 logit gap along each greedy path, and the
  exact (float64) TRL log-probs of chosen and rejected — for the studio to show and for tests to check.

## The model

A Gemma-2 with the real architecture at toy size (config keys as transformers 4.4x writes them,
`torch_dtype: bfloat16`):

| C (hidden) | FF (MLP) | L | NH | KVH | HD | query_pre_attn_scalar | sliding window | softcaps (attn / final) | V | parameters |
|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|
| {m['C']} | {m['FF']} | {m['L']} | {m['NH']} | {m['KVH']} | {m['HD']} | {c['query_pre_attn_scalar']} | {m['W']} (layers 0, 2) | {c['attn_logit_softcapping']} / {c['final_logit_softcapping']} | {c['vocab_size']} | {ctx['n_params']:,} |

GQA with two query heads per kv head, RoPE θ = 10000, layers 0 and 2 sliding (window {m['W']} tokens,
shorter than every training sequence: {ctx['len_min']}…{ctx['len_max']} tokens), layers 1 and 3 global, tied embeddings
scaled by √C, GeGLU MLP, sandwich RMSNorms with (1 + w). Tokenizer: the demo tokenizer (`public/demo`,
`scripts/demo/make_tokenizer.ts`): a 512-token Gemma-style BPE with Gemma-2's special ids
(`<pad>` 0, `<eos>` 1, `<bos>` 2, `<start_of_turn>` 106, `<end_of_turn>` 107) and chat template.

## The task

{ctx['n_items']} short questions (`scripts/demo/task.ts`), each with a GOOD answer (a full sentence,
correct) and a BAD one (a wrong guess that starts with "I think"):

| family | questions | example | GOOD | BAD |
|---|---:|---|---|---|
{fam_rows}

The bad arithmetic answer is the result + 1; a bad color/animal answer is the answer of another
question of the same family.

**SFT data.** Every question appears in chat format
(`<bos><start_of_turn>user\\n{{question}}<end_of_turn>\\n<start_of_turn>model\\n{{answer}}<end_of_turn>\\n<eos>`,
tokenized by the project's own tokenizer and TRL pair builder, `src/engine/data`). For half of the
questions (chosen at random, balanced per family) the answer is GOOD with probability {P_GOOD[1]}, for
the other half with probability {P_GOOD[0]}; each training step draws {SFT['batch']} questions uniformly and
an answer by that probability. So the trained model knows both answers to every question and picks
the bad one for about half of them.

**Preferences.** chosen = GOOD, rejected = BAD. The {ctx['n_test']} test questions are held out from the
preference train split (not from SFT — the model must know the correct results to say them), drawn per
family in proportion to its size and half from each SFT probability.

## Training

PyTorch (`/usr/bin/python3`, torch 1.13 CPU), through the reference forward of
`scripts/goldens/gemma2_reference.py` (transformers' eager Gemma-2 path), float32. Cross-entropy on the
assistant tokens only (answer, `<end_of_turn>`, `\\n`, `<eos>`). AdamW (β = {SFT['betas']}, weight decay
{SFT['weight_decay']} on matrices), peak lr {SFT['lr']}, {SFT['warmup']} warmup steps then cosine to
{SFT['min_lr_ratio']}×, gradient-norm clip {SFT['clip']}, {SFT['steps']} steps of {SFT['batch']} sequences, init N(0, {SFT['init_std']}²), RMSNorm
weights 0, seed {SEED}.

Loss (mean over the last 50 steps): {curve}. The loss cannot go to 0: the GOOD/BAD coin at the first answer
token is irreducible, a floor of ≈ {ctx['loss_floor']:.3f} per token.

## Results (greedy, bf16 weights as stored)

Greedy answer of the stored model for every question (GOOD / BAD = exactly that answer; other = anything else):

| family | n | GOOD | BAD | other |
|---|---:|---:|---:|---:|
{table(ctx['summary_all'])}

Held-out test split:

| family | n | GOOD | BAD | other |
|---|---:|---:|---:|---:|
{table(ctx['summary_test'])}

Log-probs on the test split (TRL sequence log-prob of the completion, summed over its tokens incl.
`<end_of_turn>`, `\\n`, `<eos>`; f32 activations): mean log p(chosen) = {lp['chosen']:.3f}, mean log p(rejected) =
{lp['rejected']:.3f}, mean margin {lp['margin']:+.3f} nats, chosen > rejected on {lp['chosen_wins']} of {ctx['n_test']} rows. The
base model does not already prefer chosen: preference training has work to do.

bf16 vs f32: the stored (bf16-rounded) weights give the same greedy answer as the f32 training weights
on {ctx['bf16_same']} of {ctx['n_items']} questions; the largest change of a test sequence log-prob is {ctx['bf16_max_dlogp']:.3f} nats.

Samples (`samples.json`):

| prompt | greedy answer | style |
|---|---|---|
{samples}

**Preference training sanity check.** {dpo_text}
"""


# ============================================================================ main


def main():
    ap = argparse.ArgumentParser(description="Build PrefStudio's built-in demo (public/demo).")
    ap.add_argument("--no-dpo-check", action="store_true", help="skip the closing DPO sanity run")
    ap.add_argument("--steps", type=int, default=SFT["steps"], help=f"SFT steps (default {SFT['steps']}; fewer for a quick try)")
    args = ap.parse_args()
    SFT["steps"] = args.steps
    t_start = time.time()
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    ref.LINEAR = onednn_linear  # every projection through oneDNN (see onednn_linear)
    x, w = torch.randn(37, 5, 96), torch.randn(130, 96)
    err = float(torch.max(torch.abs(onednn_linear(x, w) - F.linear(x, w))))
    assert err < 1e-4, f"onednn_linear differs from F.linear by {err}"

    with open(os.path.join(DEMO_DIR, "tokenizer.json")) as f:
        vocab = Vocab(json.load(f))
    with tempfile.TemporaryDirectory() as tmp:
        task = load_task(tmp)
    items = task["items"]
    assert (task["eos_id"], task["bos_id"], task["pad_id"], task["end_of_turn_id"]) == (1, 2, 0, 107), task
    V = task["vocab_size"]
    rng = np.random.default_rng(SEED)
    gen = torch.Generator().manual_seed(SEED)
    p_good, test, train = plan_data(items, rng)
    lens = [len(it["prompt_ids"]) + max(len(it["good_ids"]), len(it["bad_ids"])) for it in items]
    log(f"data: {len(items)} questions, preference split {len(train)} train / {len(test)} test, sequences {min(lens)}…{max(lens)} tokens")

    # ---- model + SFT
    cfg = model_config(V)
    d = ref.Dims(cfg)
    params = init_params(d, gen)
    n_params = sum(t.numel() for t in params.values())
    log(f"model: {n_params:,} parameters, C={d.C} FF={d.FF} L={d.L} NH={d.NH} KVH={d.KVH} HD={d.HD} W={d.W} V={d.V}")
    log(f"SFT: {SFT['steps']} steps × {SFT['batch']} sequences")
    t0 = time.time()
    curve = train_sft(params, d, items, p_good, gen)
    t_train = time.time() - t0
    res32 = evaluate(params, d, items)
    log("greedy answers, f32 training weights:\n" + fmt_summary(summarize(items, res32)))

    # ---- outputs
    written = write_model(params, cfg, ["tokenizer.json", "tokenizer_config.json"])
    write_preferences(items, train, test)
    cfg_back, stored, dtypes = ref.load_checkpoint(MODEL_DIR)  # from here on: the weights as stored
    assert cfg_back == cfg and set(dtypes.values()) == {"BF16"}
    res = evaluate(stored, d, items)
    s_all, s_test = summarize(items, res), summarize(items, res, test)
    log("greedy answers, bf16 weights as stored:\n" + fmt_summary(s_all))
    log("  held-out test split:\n" + fmt_summary(s_test))

    # ---- checks on the stored model
    bf16_same = sum(a["style"] == b["style"] and a.get("generated") == b.get("generated") for a, b in zip(res32, res))
    bf16_max_dlogp = max(abs(res32[i][k]["seq_logp"] - res[i][k]["seq_logp"]) for i in test for k in ("good", "bad"))
    lp_c = [res[i]["good"]["seq_logp"] for i in test]
    lp_r = [res[i]["bad"]["seq_logp"] for i in test]
    test_logps = {"chosen": float(np.mean(lp_c)), "rejected": float(np.mean(lp_r)),
                  "margin": float(np.mean(np.array(lp_c) - np.array(lp_r))),
                  "chosen_wins": int(np.sum(np.array(lp_c) > np.array(lp_r)))}
    log(f"bf16 vs f32: same greedy answer on {bf16_same}/{len(items)} questions; max |Δ seq logp| on test {bf16_max_dlogp:.4f}")
    log(f"test split log-probs: chosen {test_logps['chosen']:.3f}, rejected {test_logps['rejected']:.3f}, "
        f"margin {test_logps['margin']:+.3f}, chosen > rejected on {test_logps['chosen_wins']}/{len(test)}")
    corr = float(np.corrcoef(p_good, [r["good"]["first_p"] for r in res])[0, 1])
    log(f"P(first answer token is GOOD's) vs the SFT probability: correlation {corr:.3f}, "
        f"mean {np.mean([r['good']['first_p'] for r in res]):.3f} (target {np.mean(p_good):.3f})")

    # ---- samples.json: real generations (no teacher forcing) from the stored weights
    samples = []
    test_set = set(test)
    for i in pick_samples(items, res, test, train):
        it = items[i]
        new, gap = generate(stored, d, it["prompt_ids"])
        text = vocab.decode(strip_stop(new))
        style = "good" if text == it["good"] else "bad" if text == it["bad"] else "other"
        assert style == res[i]["style"], (it["id"], style, res[i]["style"])
        c64, r64 = seq_logps_f64(stored, d, it)
        samples.append({"id": it["id"], "family": it["family"], "split": "test" if i in test_set else "train",
                        "prompt": it["question"], "prompt_ids": it["prompt_ids"], "completion_ids": new,
                        "completion": text, "style": style, "min_top2_logit_gap": round(gap, 4),
                        "chosen": it["good"], "rejected": it["bad"], "chosen_ids": it["good_ids"], "rejected_ids": it["bad_ids"],
                        "chosen_logp": c64, "rejected_logp": r64})
    ts = json.loads(run_node(["scripts/demo/task_io.ts", "decode"], json.dumps([strip_stop(s["completion_ids"]) for s in samples])))
    assert ts == [s["completion"] for s in samples], f"TypeScript decode differs: {ts}"
    log("samples (greedy, stored weights; decoded identically by src/engine/data/tokenizer.ts):")
    for s in samples:
        log(f"  [{s['split']:5}] {s['prompt']:<28} -> {s['completion']:<24} ({s['style']}, gap {s['min_top2_logit_gap']:.2f})")
    with open(os.path.join(DEMO_DIR, "samples.json"), "w") as f:
        f.write(json.dumps({
            "model": "public/demo/model", "generator": COMMAND,
            "decoding": {"greedy": True, "max_new_tokens": MAX_NEW_TOKENS, "stop_ids": [1, 107],
                         "weights": "bf16 as stored", "activations": "f32"},
            "notes": [
                "prompt_ids = <bos><start_of_turn>user\\n{prompt}<end_of_turn>\\n<start_of_turn>model\\n (chat template, demo tokenizer)",
                "completion_ids = the greedy tokens after prompt_ids, ending with the stop token; completion = their text without it",
                "style: good = the chosen answer, bad = the rejected answer, other = neither",
                "min_top2_logit_gap: smallest top-1 minus top-2 logit along the greedy path (how robust the argmax is)",
                "chosen_ids / rejected_ids: TRL completion tokens (answer, <end_of_turn>, \\n, <eos>); chosen_logp / rejected_logp: "
                "their summed log-probs after prompt_ids, float64 activations from the stored weights (transformers' eager math)",
            ],
            "samples": samples}, indent=1) + "\n")

    # ---- DPO sanity check
    dpo = []
    for lr in ([] if args.no_dpo_check else DPO["lrs"]):
        log(f"DPO sanity check: β={DPO['beta']}, lr {lr}, {DPO['batch']} pairs/step, {DPO['epochs']} epoch(s)")
        r = dpo_check(stored, d, items, train, test, lr, torch.Generator().manual_seed(SEED), vocab)
        log(f"  test greedy before: {r['before']}\n  test greedy after:  {r['after']}\n"
            f"  mean margin {r['margin_before']:+.3f} -> {r['margin_after']:+.3f}; e.g. {r['examples']}")
        dpo.append(r)

    # ---- README
    family_sizes = OrderedDict()
    example = {}
    for it in items:
        family_sizes[it["family"]] = family_sizes.get(it["family"], 0) + 1
    for f in family_sizes:  # a mid-family example (the first ones are all "0 plus 0")
        members = [it for it in items if it["family"] == f]
        example[f] = members[len(members) // 2]
    # The SFT loss floor: the GOOD/BAD coin at the first answer token is irreducible; everything after
    # it is determined. Per token = E[coin entropy] / E[completion tokens] over the SFT distribution.
    coin = np.mean([-(p * math.log(p) + (1 - p) * math.log(1 - p)) for p in p_good])
    n_tok = np.mean([p * len(it["good_ids"]) + (1 - p) * len(it["bad_ids"]) for p, it in zip(p_good, items)])
    loss_floor = float(coin / n_tok)
    files = []
    for rel in sorted([os.path.join("model", f) for f in written] + ["preferences/train.jsonl", "preferences/test.jsonl", "samples.json"]):
        p = os.path.join(DEMO_DIR, rel)
        files.append((rel, os.path.getsize(p), sha12(p)))
    ctx = {"config": cfg, "n_params": n_params, "len_min": min(lens), "len_max": max(lens), "n_items": len(items),
           "family_sizes": family_sizes, "example": example, "n_train": len(train), "n_test": len(test), "curve": curve,
           "loss_floor": loss_floor, "summary_all": s_all, "summary_test": s_test, "test_logps": test_logps,
           "bf16_same": bf16_same, "bf16_max_dlogp": bf16_max_dlogp, "samples": samples, "dpo": dpo, "files": files}
    with open(os.path.join(DEMO_DIR, "README.md"), "w") as f:
        f.write(readme(ctx))
    total = sum(s for _, s, _ in files)
    log("files:\n" + "\n".join(f"  public/demo/{r:<45} {s:>9} B  sha256 {h}" for r, s, h in files) + f"\n  total {total / 1e6:.2f} MB")
    log(f"wall time: SFT {t_train:.0f}s, total {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
