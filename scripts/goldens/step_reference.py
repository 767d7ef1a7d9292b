#!/usr/bin/python3
"""PyTorch reference for `prefstudio step`: one full-fine-tuning preference step on one batch.

    /usr/bin/python3 scripts/goldens/step_reference.py --model DIR --pairs FILE --report OUT.json \
        [--loss_type L[,L...]] [--loss_weights W[,W...]] [--use_weighting] [--wpo_no_clamp] [--beta B] \
        [--simpo_gamma G] [--cpo_alpha A] [--label_smoothing E] [--learning_rate LR] [--weight_decay WD] \
        [--optim adamw_torch|rmsprop] [--max_grad_norm N] [--dtype float64|float32]
    /usr/bin/python3 scripts/goldens/step_reference.py --check            # self-checks only
    /usr/bin/python3 scripts/goldens/step_reference.py --write-fixtures   # self-checks, then e2e/fixtures/step/*.json
    /usr/bin/python3 scripts/goldens/step_reference.py --write-lora-fixtures   # self-checks, then only e2e/fixtures/step/lora/*.json

Flags use TRL / transformers names; the dashed spellings (--learning-rate) are accepted too.
FILE is the token-id form of `prefstudio logps`: {"pairs": [{"prompt": [ids], "chosen": [ids], "rejected": [ids]}]}.
The ids are used exactly as given (no BOS/EOS added). OUT.json ("-" = stdout) is the `step` report:

    {"loss", "pairs": [{"chosen_logp", "rejected_logp", "ref_chosen_logp", "ref_rejected_logp",
      "reward_chosen", "reward_rejected", "margin", "weight", "loss"}],
     "grad_norm", "grad_norms": {HF name: L2 norm of its gradient before clipping},
     "params_after": {HF name: {"sum", "first": [its first 8 values, row-major]}}}

Independent of the engine: the model is the eager Gemma-2 of gemma2_reference.py (imported), the
losses are written here from /work/shared/specs/preference-losses.md (§2.2, §2.3, §3.1, §5), and the
optimizers are torch.optim's own. Default precision is float64 everywhere (weights widened from the
stored F32/BF16 values, activations, loss, gradients, optimizer state): that is the reference.
--dtype float32 runs the same step in float32 (used to measure what f32 arithmetic alone changes).

What one step is (every convention the engine must match)
  batch      B pairs = 2B rows, rows [0, B) prompt‖chosen, rows [B, 2B) prompt‖rejected, right-padded
             with id 0 (attention_mask 0) to T = the longest row. Labels as TRL: position k scores token
             k+1 when token k+1 is a completion token.
  per row    S = Σ completion log-probs (soft-capped logits), n = completion length,
             m = mean over completion positions of (lp − log Σ_v p_v²) (WPO, detached).
  reference  the initial weights, no gradient: R_w, R_l (the same S). None for simpo (reported as 0).
  pair       a = S_w − R_w, b = S_l − R_l, h = a − b, Ā = S / n. ε = label_smoothing.
             sigmoid    −(1−ε)·logσ(βh) − ε·logσ(−βh)                     (classic cDPO smoothing)
             ipo        (a/n_w − b/n_l − 1/(2β))²                         (TRL length-normalised)
             hinge      max(0, 1 − βh)
             simpo      −(1−ε)·logσ(z) − ε·logσ(−z) + cpo_alpha·NLL,  z = β(Ā_w − Ā_l) − γ, γ = simpo_gamma
             sppo_hard  (a − 1/(2β))² + (b + 1/(2β))²                     (TRL: no ½)
             sft        NLL = −Σ_{chosen completion tokens of the batch} lp / Σ_b n_w
                        (one batch scalar, the same for every pair)
  weight     w = exp(m_w + m_l), detached; min(w, 1) unless --wpo_no_clamp; 1 without --use_weighting.
  pair loss  Σ_k loss_weights[k] · w · ℓ_k  (cpo_alpha·NLL is part of ℓ_simpo, so it is weighted too)
  loss       mean over pairs of the pair loss.
  rewards    β·a, β·b (simpo: β·Ā_w, β·Ā_l); margin = reward_chosen − reward_rejected.
  gradient   d loss / d every parameter (the tied embedding gets its input and its lm_head part).
  grad_norms per tensor L2 norm before clipping; grad_norm = sqrt(Σ grad_norms²) (also before clipping).
  clipping   only with --max_grad_norm N: torch.nn.utils.clip_grad_norm_, i.e. every gradient is multiplied
             by min(1, N / (grad_norm + 1e-6)).
  optimizer  the Hugging Face Trainer's: two parameter groups, decay / no decay (see DECAY_EXCLUDED).
             adamw_torch: torch.optim.AdamW(lr, betas (0.9, 0.999), eps 1e-8, weight_decay per group),
               decoupled decay p ← p·(1 − lr·wd) before the Adam update; the first step's update is
               lr·g / (|g| + 1e-8).
             rmsprop: torch.optim.RMSprop(lr) with torch's defaults alpha 0.99, eps 1e-8, momentum 0,
               not centered; weight decay per group is torch's coupled L2 (g ← g + wd·p), the first step's
               update is lr·g / (0.1·|g| + 1e-8).
  defaults   loss_type sigmoid, beta 0.1, simpo_gamma 0.5, cpo_alpha 0, label_smoothing 0,
             learning_rate 1e-6 (DPOConfig), weight_decay 0, optim adamw_torch, no clipping.
  note       the reference is the initial model, so in this one step a = b = h = 0 for every pair: the
             DPO-family losses sit at h = 0 (sigmoid gives log 2 whatever ε; rewards and margins are 0) and
             only their gradients carry β and ε. SimPO, NLL and the WPO weights do not involve the reference.

LoRA (LORA_CASES, e2e/fixtures/step/lora/*.json; the engine runs them in-process, e2e/step.test.ts)
  policy     the frozen base plus PEFT's branch on each targeted projection (peft/tuners/lora/layer.py
             Linear.forward): y = x·Wᵀ + (dropout(x)·Aᵀ)·Bᵀ · scale, scale = lora_alpha / r (/ √r with
             use_rslora); dropout 0 here (the masks are the engine's own). A, B: the fixture's "adapter"
             (A Kaiming-uniform as PEFT, B random nonzero so that A's gradient is not 0).
  reference  the base with the adapter off (no second copy of the weights).
  trained    only the factors, by their PEFT names (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight);
             all of them decayed (get_decay_parameter_names excludes only bias / norm names).
  report     as above over the factors, plus "grads_first": the first 8 values of each factor's gradient
             (before clipping, as grad_norms).

Fixtures (--write-fixtures): each entry of CASES becomes e2e/fixtures/step/<case>.json = {model, args,
pairs, expected (this script's float64 report), tolerances (TOLERANCES, per tensor and per value),
pytorch_f32_deviation, controls: [{what, report}] (the same step with one convention changed)}. Before
writing, it checks that the same step in PyTorch float32 passes the tolerances and that every control
fails them. e2e/step.test.ts runs `prefstudio step` on each fixture.
"""

import argparse
import json
import math
import os
import re
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo"))
import gemma2_reference  # noqa: E402
from gemma2_reference import ROOT, Checks, Dims, forward, load_checkpoint, logprob_terms, make_labels  # noqa: E402
from train_demo import make_batch as pad_rows  # noqa: E402  (right-padding with id 0, completion mask)

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "simpo", "sppo_hard", "sft")
FIXTURE_DIR = os.path.join(ROOT, "e2e", "fixtures", "step")
N_FIRST = 8  # params_after[name].first holds this many leading values

# Weight decay grouping, as transformers' Trainer.get_decay_parameter_names (transformers main, read in
# src/transformers/trainer.py): a parameter is decayed unless it sits inside an nn.LayerNorm module or its
# lower-cased dotted name matches one of these patterns (re.search). Gemma2RMSNorm is a plain nn.Module,
# NOT an nn.LayerNorm subclass (pytorch_utils.ALL_LAYERNORM_LAYERS = [nn.LayerNorm]), so on Gemma-2 it is
# the name patterns that exclude the norms: `input_layernorm`, `post_attention_layernorm`,
# `pre_feedforward_layernorm`, `post_feedforward_layernorm` match "layernorm", and `model.norm.weight`
# matches "(?:^|\.)norm(?:$|\.)". Everything else is decayed, INCLUDING model.embed_tokens.weight (the
# tied lm_head is the same tensor and is not listed twice). Older transformers (get_parameter_names with
# only ALL_LAYERNORM_LAYERS and "bias" in the name, e.g. 4.44 pinned by the SimPO/WPO repos) decayed the
# Gemma norm weights too; we follow the current Trainer, as the issue asks ("not on norm weights or biases").
DECAY_EXCLUDED = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]


def decays(name):
    """True if the HF Trainer puts parameter `name` in its weight-decay group (see DECAY_EXCLUDED)."""
    return not any(re.search(p, name.lower()) for p in DECAY_EXCLUDED)


# ============================================================================ configuration


class StepConfig:
    """The step's settings, TRL names. `knobs` are deliberate deviations used only to build the
    negative-control reports stored next to the fixtures (never reachable from the command line)."""

    def __init__(self, **kw):
        self.loss_type = kw.pop("loss_type", ["sigmoid"])
        self.loss_weights = kw.pop("loss_weights", None) or [1.0] * len(self.loss_type)
        self.use_weighting = kw.pop("use_weighting", False)
        self.wpo_clamp = not kw.pop("wpo_no_clamp", False)
        self.beta = kw.pop("beta", 0.1)
        self.simpo_gamma = kw.pop("simpo_gamma", 0.5)
        self.cpo_alpha = kw.pop("cpo_alpha", 0.0)
        self.label_smoothing = kw.pop("label_smoothing", 0.0)
        self.learning_rate = kw.pop("learning_rate", 1e-6)
        self.weight_decay = kw.pop("weight_decay", 0.0)
        self.optim = kw.pop("optim", "adamw_torch")
        self.max_grad_norm = kw.pop("max_grad_norm", None)
        self.knobs = kw.pop("knobs", {})
        if kw:
            raise ValueError(f"unknown settings {sorted(kw)}")
        self.validate()

    def validate(self):
        bad = [t for t in self.loss_type if t not in LOSS_TYPES]
        if bad:
            raise ValueError(f"--loss_type {bad[0]!r} is not one of {', '.join(LOSS_TYPES)}")
        if len(self.loss_weights) != len(self.loss_type):
            raise ValueError(f"--loss_weights has {len(self.loss_weights)} values for {len(self.loss_type)} loss types")
        if "simpo" in self.loss_type and any(t not in ("simpo", "sft") for t in self.loss_type):
            raise ValueError("simpo is reference-free; it can only be combined with sft")
        if not self.beta > 0:
            raise ValueError(f"--beta must be > 0, got {self.beta}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(f"--label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.optim not in ("adamw_torch", "rmsprop"):
            raise ValueError(f"--optim must be adamw_torch or rmsprop, got {self.optim!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"--max_grad_norm must be > 0, got {self.max_grad_norm}")

    @property
    def reference_free(self):
        return "simpo" in self.loss_type


def floats(text):
    return [float(x) for x in text.split(",") if x.strip()]


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)

    def add(name, **kw):  # TRL's underscore spelling plus the dashed one
        dashed = name.replace("_", "-")
        ap.add_argument(name, *([dashed] if dashed != name else []), **kw)

    add("--model", help="Gemma-2 checkpoint directory (HF layout)")
    add("--pairs", help="token-id pairs JSON")
    add("--report", help="where to write the report JSON ('-' = stdout)")
    add("--loss_type", default="sigmoid", help=f"comma list of {', '.join(LOSS_TYPES)}")
    add("--loss_weights", default=None, help="comma list, one per loss type (default all 1)")
    add("--use_weighting", action="store_true", help="WPO weights")
    add("--wpo_no_clamp", action="store_true", help="do not clamp the WPO pair weight at 1 (TRL >= 0.29)")
    add("--beta", type=float, default=0.1)
    add("--simpo_gamma", type=float, default=0.5)
    add("--cpo_alpha", type=float, default=0.0)
    add("--label_smoothing", type=float, default=0.0)
    add("--learning_rate", type=float, default=1e-6)
    add("--weight_decay", type=float, default=0.0)
    add("--optim", default="adamw_torch", choices=["adamw_torch", "rmsprop"])
    add("--max_grad_norm", type=float, default=None)
    add("--dtype", default="float64", choices=["float64", "float32"], help="precision of the whole step (reference: float64)")
    add("--check", action="store_true", help="run the self-checks only")
    add("--write_fixtures", action="store_true", help="self-checks, then regenerate e2e/fixtures/step/*.json and lora/*.json")
    add("--write_lora_fixtures", action="store_true", help="self-checks, then regenerate only e2e/fixtures/step/lora/*.json")
    return ap


def config_from_args(a):
    return StepConfig(
        loss_type=[t.strip() for t in a.loss_type.split(",") if t.strip()],
        loss_weights=floats(a.loss_weights) if a.loss_weights else None,
        use_weighting=a.use_weighting, wpo_no_clamp=a.wpo_no_clamp, beta=a.beta, simpo_gamma=a.simpo_gamma,
        cpo_alpha=a.cpo_alpha, label_smoothing=a.label_smoothing, learning_rate=a.learning_rate,
        weight_decay=a.weight_decay, optim=a.optim, max_grad_norm=a.max_grad_norm)


# ============================================================================ batch


def read_pairs(path, V):
    """Token-id pairs, validated against the vocabulary size V. Returns a list of dicts of int lists."""
    with open(path) as f:
        doc = json.load(f)
    pairs = doc.get("pairs") if isinstance(doc, dict) else None
    if not isinstance(pairs, list) or not pairs:
        raise ValueError(f"{path}: expected {{\"pairs\": [...]}} with at least one pair")
    for i, p in enumerate(pairs):
        for k in ("prompt", "chosen", "rejected"):
            ids = p.get(k) if isinstance(p, dict) else None
            if not isinstance(ids, list) or not ids:
                raise ValueError(f"{path}: pairs[{i}].{k} must be a non-empty list of token ids")
            for j, t in enumerate(ids):
                if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < V:
                    raise ValueError(f"{path}: pairs[{i}].{k}[{j}] = {t!r} is not a token id in [0, {V})")
    return pairs


def make_batch(pairs):
    """2B right-padded rows (chosen rows first). Returns ids, attention_mask, completion_mask [2B, T] int64."""
    return pad_rows([(p["prompt"], p["chosen"]) for p in pairs] + [(p["prompt"], p["rejected"]) for p in pairs])


def sequence_stats(params, d, batch):
    """Per row: S = Σ completion lp (differentiable), n, m = mean(lp − log Σp²) (detached). Each [2B]."""
    ids, am, cm = batch
    labels = make_labels(ids, cm)
    logp, S, _lse, lsp2 = logprob_terms(forward(params, d, ids, am), labels)
    mask = (labels >= 0).to(S.dtype)
    n = mask.sum(-1)
    m = (((logp - lsp2) * mask).sum(-1) / n).detach()
    return S, n, m


# ============================================================================ losses


def log_sigmoid(x):
    return F.logsigmoid(x)  # −softplus(−x), stable for large |x|


def preference_loss(S, n, m, R, cfg):
    """S, n, m: [2B] per-row stats of the policy (chosen rows first); R: [2B] reference sums or None.
    Returns (batch loss, per-pair dict of [B] tensors). Formulas: module docstring."""
    B = S.shape[0] // 2
    Sw, Sl, nw, nl = S[:B], S[B:], n[:B], n[B:]
    Rw, Rl = (R[:B], R[B:]) if R is not None else (torch.zeros_like(Sw), torch.zeros_like(Sl))
    beta, eps = cfg.beta, cfg.label_smoothing
    a, b = Sw - Rw, Sl - Rl
    h = a - b
    Aw, Al = Sw / nw, Sl / nl
    nll = -Sw.sum() / nw.sum()  # token-mean cross-entropy over every chosen completion token of the batch
    if cfg.use_weighting:
        w = torch.exp(m[:B] + m[B:]).detach()
        if cfg.wpo_clamp:
            w = torch.clamp(w, max=1.0)
    else:
        w = torch.ones_like(Sw)
    if "w" in cfg.knobs:  # negative controls / finite differences: a fixed weight
        w = cfg.knobs["w"]

    def smoothed(x):  # cDPO / CPO label smoothing
        return -(1 - eps) * log_sigmoid(x) - eps * log_sigmoid(-x)

    pair_loss = torch.zeros_like(Sw)
    for kind, weight in zip(cfg.loss_type, cfg.loss_weights):
        if kind == "sigmoid":
            ell = smoothed(beta * h)
        elif kind == "ipo":
            ell = (a / nw - b / nl - 1 / (2 * beta)) ** 2
        elif kind == "hinge":
            ell = torch.relu(1 - beta * h)
        elif kind == "simpo":
            ell = smoothed(beta * (Aw - Al) - cfg.simpo_gamma) + cfg.cpo_alpha * nll
        elif kind == "sppo_hard":
            ell = (a - 1 / (2 * beta)) ** 2 + (b + 1 / (2 * beta)) ** 2
        elif kind == "sft":
            ell = nll.expand(B)
        else:
            raise AssertionError(kind)
        pair_loss = pair_loss + weight * w * ell
    if cfg.reference_free:
        rw, rl = beta * Aw, beta * Al
    else:
        rw, rl = beta * a, beta * b
    pairs = {
        "chosen_logp": Sw, "rejected_logp": Sl, "ref_chosen_logp": Rw, "ref_rejected_logp": Rl,
        "reward_chosen": rw, "reward_rejected": rl, "margin": rw - rl, "weight": w * torch.ones_like(Sw),
        "loss": pair_loss,
    }
    return pair_loss.mean(), {k: v.detach() for k, v in pairs.items()}


# ============================================================================ the step


def make_optimizer(named, cfg):
    """The HF Trainer's optimizer over `named` (OrderedDict name -> leaf tensor): two groups."""
    groups = [
        {"params": [p for k, p in named.items() if decays(k) != cfg.knobs.get("flip_decay", lambda k: False)(k)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for k, p in named.items() if decays(k) == cfg.knobs.get("flip_decay", lambda k: False)(k)],
         "weight_decay": 0.0},
    ]
    if cfg.optim == "adamw_torch":
        return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.RMSprop(groups, lr=cfg.learning_rate)  # alpha 0.99, eps 1e-8, momentum 0 (torch defaults)


def run_step(params32, d, pairs, cfg, dtype=torch.float64, tolerances=None, lora=None):
    """One step from the stored weights `params32` (name -> f32 tensor). Returns the report dict.
    If `tolerances` is a dict, the per-value params_after tolerances (see TOLERANCES) are put in it.
    lora = (LoraSpec, adapter32: PEFT name -> f32 factor): train only the factors on the frozen base."""
    if lora is None:
        named = OrderedDict((k, v.to(dtype).clone().requires_grad_(True)) for k, v in params32.items())
        policy = reference = named
    else:
        spec, adapter32 = lora
        reference = {k: v.to(dtype) for k, v in params32.items()}  # the base: the adapter off
        named = OrderedDict((k, v.to(dtype).clone().requires_grad_(True)) for k, v in adapter32.items())
        policy = with_lora(reference, named, spec, d)
        if cfg.knobs.get("reference_with_adapter"):
            reference = policy
    batch = make_batch(pairs)
    R = None
    if not cfg.reference_free:
        with torch.no_grad():
            R, _, _ = sequence_stats(reference, d, batch)
    S, n, m = sequence_stats(policy, d, batch)
    loss, per_pair = preference_loss(S, n, m, R, cfg)
    loss.backward()
    grad_norms = OrderedDict((k, float(torch.linalg.vector_norm(p.grad))) for k, p in named.items())
    grad_norm = math.sqrt(sum(g * g for g in grad_norms.values()))
    grads_first = OrderedDict((k, [float(x) for x in p.grad.reshape(-1)[:N_FIRST]]) for k, p in named.items())  # before clipping
    if cfg.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(list(named.values()), cfg.max_grad_norm)
    if tolerances is not None:
        first_tolerances(named, cfg, tolerances)
    make_optimizer(named, cfg).step()
    B = len(pairs)
    report = {
        "loss": float(loss),
        "pairs": [{k: float(v[i]) for k, v in per_pair.items()} for i in range(B)],
        "grad_norm": grad_norm,
        "grad_norms": grad_norms,
        "params_after": OrderedDict(
            (k, {"sum": float(p.detach().sum()), "first": [float(x) for x in p.detach().reshape(-1)[:N_FIRST]]})
            for k, p in named.items()),
    }
    if lora is not None:
        report["grads_first"] = grads_first
    if tolerances is not None:
        tolerances["params_sum"] = OrderedDict(
            (k, TOLERANCES["params_sum_rel_l1"] * float(p.detach().abs().sum())) for k, p in named.items())
        if lora is not None:  # each gradient's first values within grad_rtol of that gradient's norm
            tolerances["grads_first"] = OrderedDict((k, TOLERANCES["grad_rtol"] * g) for k, g in grad_norms.items())
    return report


# How close an f32 engine must come to the float64 report (stored in each fixture; e2e/step.test.ts uses
# them). Calibrated on the same step run by PyTorch in float32 (pytorch_f32_deviation in each fixture;
# every fixture's f32 run passes with these, checked by --write-fixtures):
#   loss and per-pair values  |got − want| ≤ atol + rtol·|want|
#   grad_norms, grad_norm     relative 1e-3 (PyTorch f32 is within 3e-5)
#   params_after sum          5e-6 · Σ|p| of that tensor (PyTorch f32 is ≥ 18× inside: at most 2.7e-7 · Σ|p|)
#   params_after first[j]     2e-6 + the element's own ill-conditioning: the first AdamW step moves an
#                             element by lr·ĝ/(|ĝ| + 1e-8) (RMSprop lr·ĝ/(0.1|ĝ| + 1e-8)), so an element
#                             whose gradient is within f32 noise of 0 has an undetermined update. With the
#                             f32 gradient error bounded by τ = 1e-5 · max|ĝ| of its tensor, the bound is
#                             min(cap, lr · 1e-8 · τ / (s·max(|ĝ| − τ, 0) + 1e-8)²), s = 1, cap 2·lr (AdamW)
#                             or s = 0.1, cap 20·lr (RMSprop); ĝ = the gradient the optimizer sees (after
#                             clipping, plus wd·p for RMSprop). Most values keep 2e-6.
TOLERANCES = {"values_atol": 5e-5, "values_rtol": 5e-5, "grad_rtol": 1e-4, "params_sum_rel_l1": 5e-6,
              "params_first_atol": 2e-6, "grad_error_rel_max": 1e-5}


def first_tolerances(named, cfg, out):
    """Per first value: params_first_atol + the update's sensitivity to an f32-sized gradient error."""
    lr, eps = cfg.learning_rate, 1e-8
    s, cap = (1.0, 2 * lr) if cfg.optim == "adamw_torch" else (0.1, 20 * lr)
    decayed = {id(p) for k, p in named.items() if decays(k)}
    first = OrderedDict()
    for k, p in named.items():
        g = p.grad.detach().reshape(-1)
        if cfg.optim == "rmsprop" and id(p) in decayed:
            g = g + cfg.weight_decay * p.detach().reshape(-1)
        tau = TOLERANCES["grad_error_rel_max"] * float(g.abs().max())
        gj = g[:N_FIRST].abs()
        amb = torch.clamp(lr * eps * tau / (s * torch.clamp(gj - tau, min=0) + eps) ** 2, max=cap)
        first[k] = [TOLERANCES["params_first_atol"] + float(x) for x in amb]
    out["params_first"] = first


def compare(got, want, tol):
    """Mirror of e2e/step.test.ts's comparison. Returns a list of mismatch descriptions (empty = pass)."""
    bad = []

    def close(what, a, e, atol, rtol):
        if not abs(a - e) <= atol + rtol * abs(e):
            bad.append(f"{what}: got {a}, want {e}")

    close("loss", got["loss"], want["loss"], TOLERANCES["values_atol"], TOLERANCES["values_rtol"])
    for i, (p, q) in enumerate(zip(got["pairs"], want["pairs"])):
        for k in q:
            close(f"pairs[{i}].{k}", p[k], q[k], TOLERANCES["values_atol"], TOLERANCES["values_rtol"])
    close("grad_norm", got["grad_norm"], want["grad_norm"], 0.0, TOLERANCES["grad_rtol"])
    for k, v in want["grad_norms"].items():
        close(f"grad_norms[{k}]", got["grad_norms"][k], v, 1e-12, TOLERANCES["grad_rtol"])
    for k, v in want["params_after"].items():
        close(f"params_after[{k}].sum", got["params_after"][k]["sum"], v["sum"], tol["params_sum"][k], 0.0)
        for j, (a, e) in enumerate(zip(got["params_after"][k]["first"], v["first"])):
            close(f"params_after[{k}].first[{j}]", a, e, tol["params_first"][k][j], 0.0)
    for k, v in want.get("grads_first", {}).items():
        for j, (a, e) in enumerate(zip(got["grads_first"][k], v)):
            close(f"grads_first[{k}][{j}]", a, e, tol["grads_first"][k], 0.0)
    return bad


# ============================================================================ self-checks


def check_spec_example(ck):
    """The spec's worked example (§9): per-pair losses, batch means and d loss / d lp_t."""
    lp = [[-0.5, -1.2, -0.3, -0.8], [-2.1, -1.6, -1.1], [-1.5, -0.7, -2.0], [-0.2, -0.6, -0.9, -0.3, -0.5]]
    lq = [[-0.7, -1.4, -0.5, -1.0], [-1.9, -1.5, -1.0], [-1.2, -0.6, -1.5], [-0.3, -0.5, -1.0, -0.4, -0.4]]
    l2 = [[-0.9, -1.6, -0.5, -1.2], [-1.3, -0.6, -0.9], [-1.1, -1.0, -1.9], [-0.35, -0.9, -1.3, -0.5, -0.8]]
    S0 = torch.tensor([sum(r) for r in lp], dtype=torch.float64)  # rows: chosen 1, chosen 2, rejected 1, rejected 2
    R = torch.tensor([sum(r) for r in lq], dtype=torch.float64)
    n = torch.tensor([len(r) for r in lp], dtype=torch.float64)
    m = torch.tensor([sum(x - y for x, y in zip(a, c)) / len(a) for a, c in zip(lp, l2)], dtype=torch.float64)
    cases = [  # (settings, per-pair losses, batch mean, dloss/dlp_t for chosen 1, chosen 2, rejected 1, rejected 2)
        (dict(), [0.6117553389, 0.7184596480], 0.6651074934, [-0.02288010296, -0.02562486982, 0.02288010296, 0.02562486982]),
        (dict(label_smoothing=0.1), [0.6287553389, 0.7134596480], 0.6711074934, None),
        (dict(loss_type=["hinge"]), [0.83, 1.05], 0.94, [-0.05, -0.05, 0.05, 0.05]),
        (dict(loss_type=["ipo"]), [20.25, 26.55684444], 23.40342222, [-1.125, -1.717777778, 1.5, 1.030666667]),
        (dict(use_weighting=True, wpo_no_clamp=True), [0.8121343343, 0.4832059092], 0.6476701218,
         [-0.03037442586, -0.01723421567, 0.03037442586, 0.01723421567]),
        (dict(use_weighting=True), [0.6117553389, 0.4832059092], 0.5474806240, None),
        (dict(loss_type=["simpo"], beta=10.0, simpo_gamma=5.0), [0.1269280110, 16.00000011], 8.063464062,
         [-0.1490036525, -1.666666479, 0.1986715367, 0.9999998875]),
        (dict(loss_type=["sppo_hard"]), [34.45, 55.17], 44.81, [-4.2, -5.4, 4.1, 5.1]),
    ]
    for kw, per_pair, mean, grads in cases:
        cfg = StepConfig(**kw)
        S = S0.clone().requires_grad_(True)
        loss, pairs = preference_loss(S, n, m, None if cfg.reference_free else R, cfg)
        loss.backward()
        name = f"spec §9 {kw or 'sigmoid'}"
        ck.close(f"{name}: pair losses and mean", list(pairs["loss"]) + [float(loss)], per_pair + [mean], 2e-8)
        if grads is not None:
            ck.close(f"{name}: d loss / d lp_t", S.grad / 1.0, grads, 2e-9)  # dS/dlp_t = 1 for every token
    cfg = StepConfig(use_weighting=True, wpo_no_clamp=True)
    _, pairs = preference_loss(S0, n, m, R, cfg)
    ck.close("spec §9 WPO pair weights", pairs["weight"], [1.327547604, 0.6725581743], 1e-9)
    cfg = StepConfig(loss_type=["simpo"], beta=10.0, simpo_gamma=5.0)
    _, pairs = preference_loss(S0, n, m, None, cfg)
    ck.close("spec §9 SimPO rewards", [*pairs["reward_chosen"], *pairs["reward_rejected"]], [-7, -16, -14, -5], 1e-12)
    _, pairs = preference_loss(S0, n, m, R, StepConfig())
    ck.close("spec §9 DPO rewards / margins", [*pairs["reward_chosen"], *pairs["reward_rejected"], *pairs["margin"]],
             [0.08, -0.04, -0.09, 0.01, 0.17, -0.05], 1e-12)
    # sft: NLL = −Σ chosen lp / Σ n_w = (2.8 + 4.8) / 7; with loss_weights it scales
    cfg = StepConfig(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5])
    loss, _ = preference_loss(S0, n, m, R, cfg)
    ck.close("sigmoid + 0.5·sft = DPO mean + 0.5·NLL", float(loss), 0.6651074934 + 0.5 * 7.6 / 7, 2e-10)


def check_grouping(ck, names):
    no_decay = [k for k in names if not decays(k)]
    want = [k for k in names if k.endswith("norm.weight")]
    ck.true("weight decay: every *norm.weight excluded, nothing else", no_decay == want, f"{len(want)} norm tensors")
    ck.true("weight decay: embeddings decayed", decays("model.embed_tokens.weight"))


def check_optimizer_first_step(ck):
    """torch's AdamW / RMSprop first step equals the closed forms the docstring states."""
    g = torch.tensor([3e-3, -2e-9, 0.0, 5.0], dtype=torch.float64)
    p0 = torch.tensor([0.5, -0.25, 1.0, 2.0], dtype=torch.float64)
    lr, wd = 1e-2, 0.3
    for optim, want in (("adamw_torch", p0 * (1 - lr * wd) - lr * g / (g.abs() + 1e-8)),
                        ("rmsprop", p0 - lr * (g + wd * p0) / (0.1 * (g + wd * p0).abs() + 1e-8))):
        p = p0.clone().requires_grad_(True)
        p.grad = g.clone()
        make_optimizer(OrderedDict([("model.layers.0.mlp.up_proj.weight", p)]),
                       StepConfig(optim=optim, learning_rate=lr, weight_decay=wd)).step()
        ck.close(f"{optim}: first step closed form", p.detach(), want, 1e-15)


def check_finite_differences(ck, params32, d, varied_pairs, greedy):
    """d loss / d θ from autograd vs central differences of the same loss (WPO weights held fixed,
    as they are detached), a few entries of several tensors, float64, every loss type. WPO runs on
    the greedy pairs (weights of order 1), the rest on the varied ones."""
    gen = torch.Generator().manual_seed(7)
    for kw in (dict(), dict(label_smoothing=0.2), dict(loss_type=["ipo"]), dict(loss_type=["hinge"], beta=0.5),
               dict(loss_type=["simpo"], beta=2.0, cpo_alpha=0.5), dict(use_weighting=True, wpo_no_clamp=True),
               dict(loss_type=["sppo_hard"]), dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.3])):
        cfg = StepConfig(**kw)
        named = OrderedDict((k, v.double().clone().requires_grad_(True)) for k, v in params32.items())
        batch = make_batch(greedy if cfg.use_weighting else varied_pairs)
        with torch.no_grad():
            R = None if cfg.reference_free else sequence_stats(dict(named), d, batch)[0]
        S, n, m = sequence_stats(named, d, batch)
        loss, per_pair = preference_loss(S, n, m, R, cfg)
        loss.backward()
        frozen = StepConfig(**kw, knobs={"w": per_pair["weight"]})

        def f():
            with torch.no_grad():
                S2, n2, m2 = sequence_stats(named, d, batch)
                return float(preference_loss(S2, n2, m2, R, frozen)[0])

        worst = worst_fd_error(named, ("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                       "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
                                       "model.norm.weight"), f, gen)
        ck.close(f"finite differences {kw or 'sigmoid'}", worst, 0.0, 1e-7)


def worst_fd_error(named, keys, f, gen, h=1e-6):
    """Largest |central difference − autograd| / max(1, |difference|) of f() over two random entries of each
    tensor named[k] (autograd's .grad already computed)."""
    worst = 0.0
    for k in keys:
        t = named[k]
        for _ in range(2):
            i = int(torch.randint(t.numel(), (1,), generator=gen))
            with torch.no_grad():
                saved = float(t.view(-1)[i])
                t.view(-1)[i] = saved + h
                up = f()
                t.view(-1)[i] = saved - h
                dn = f()
                t.view(-1)[i] = saved
            fd = (up - dn) / (2 * h)
            worst = max(worst, abs(fd - float(t.grad.view(-1)[i])) / max(1.0, abs(fd)))
    return worst


# ============================================================================ LoRA (PEFT conventions)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_PARENT = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
               "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
LORA_DIR = os.path.join(FIXTURE_DIR, "lora")


class LoraSpec:
    """LoraConfig's r, lora_alpha, target_modules, use_rslora (lora_dropout is 0 in the goldens)."""

    def __init__(self, r, alpha, targets=LORA_TARGETS, use_rslora=False):
        self.r, self.alpha, self.targets, self.use_rslora = r, alpha, tuple(t for t in LORA_TARGETS if t in targets), use_rslora

    @property
    def scale(self):  # peft LoraLayer.update_layer: lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora
        return self.alpha / math.sqrt(self.r) if self.use_rslora else self.alpha / self.r

    def args(self):
        """The engine's flags for these settings (prefstudio train's, TRL ModelConfig names)."""
        return ["--use_peft", "--lora_r", str(self.r), "--lora_alpha", f"{self.alpha:g}", "--lora_dropout", "0",
                "--lora_target_modules", ",".join(self.targets)] + (["--use_rslora"] if self.use_rslora else [])


def peft_key(i, t, which):
    return f"base_model.model.model.layers.{i}.{LORA_PARENT[t]}.{t}.lora_{which}.weight"


def features(d, t):
    """(in, out) of a target's nn.Linear."""
    q, kv = d.NH * d.HD, d.KVH * d.HD
    return {"q_proj": (d.C, q), "k_proj": (d.C, kv), "v_proj": (d.C, kv), "o_proj": (q, d.C),
            "gate_proj": (d.C, d.FF), "up_proj": (d.C, d.FF), "down_proj": (d.FF, d.C)}[t]


def init_adapter(d, spec, seed, b_scale=0.3):
    """PEFT's A init (kaiming_uniform_(a=√5): U(−1/√in, 1/√in)) and, instead of PEFT's B = 0, B ~ U(−b, b)
    so the step's gradients of A are not zero. f32 values, PEFT key order (layer, target, A then B)."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for i in range(d.L):
        for t in spec.targets:
            fin, fout = features(d, t)
            bound = 1 / math.sqrt(fin)
            out[peft_key(i, t, "A")] = ((torch.rand(spec.r, fin, generator=gen, dtype=torch.float64) * 2 - 1) * bound).float()
            out[peft_key(i, t, "B")] = ((torch.rand(fout, spec.r, generator=gen, dtype=torch.float64) * 2 - 1) * b_scale).float()
    return out


class LoraWeight:
    """A targeted projection's frozen weight W [out, in] with its factors A [r, in], B [out, r]."""

    def __init__(self, W, A, B, scale):
        self.W, self.A, self.B, self.scale = W, A, B, scale


def lora_linear(x, W):
    """gemma2_reference.LINEAR with LoRA: peft's Linear.forward, result + lora_B(lora_A(dropout(x))) * scaling
    (dropout = identity). Plain weights: F.linear, as before."""
    if isinstance(W, LoraWeight):
        return F.linear(x, W.W) + F.linear(F.linear(x, W.A), W.B) * W.scale
    return F.linear(x, W)


gemma2_reference.LINEAR = lora_linear


def with_lora(base, factors, spec, d):
    """The base parameters with each targeted weight wrapped as a LoraWeight over `factors` (PEFT names)."""
    out = dict(base)
    for i in range(d.L):
        for t in spec.targets:
            name = f"model.layers.{i}.{LORA_PARENT[t]}.{t}.weight"
            out[name] = LoraWeight(base[name], factors[peft_key(i, t, "A")], factors[peft_key(i, t, "B")], spec.scale)
    return out


def check_lora(ck, params32, d, pairs):
    """The LoRA forward is the merged weight W + scale·B·A; B = 0 is the base; d loss / dA, dB by central
    differences (float64)."""
    spec = LoraSpec(r=3, alpha=5.0, targets=("q_proj", "o_proj", "up_proj", "down_proj"), use_rslora=True)
    base = {k: v.double() for k, v in params32.items()}
    factors = {k: v.double() for k, v in init_adapter(d, spec, seed=5).items()}
    batch = make_batch(pairs)
    S_lora = sequence_stats(with_lora(base, factors, spec, d), d, batch)[0]
    merged = dict(base)
    for i in range(d.L):
        for t in spec.targets:
            name = f"model.layers.{i}.{LORA_PARENT[t]}.{t}.weight"
            merged[name] = base[name] + spec.scale * factors[peft_key(i, t, "B")] @ factors[peft_key(i, t, "A")]
    ck.close("LoRA forward = merged W + scale·B·A", S_lora, sequence_stats(merged, d, batch)[0], 1e-10)
    zero_b = {k: (torch.zeros_like(v) if ".lora_B." in k else v) for k, v in factors.items()}
    ck.close("LoRA with B = 0 is the base model", sequence_stats(with_lora(base, zero_b, spec, d), d, batch)[0],
             sequence_stats(base, d, batch)[0], 0.0)
    ck.true("rsLoRA scale alpha/√r", spec.scale == 5.0 / math.sqrt(3))
    ck.true("LoRA factors are decayed by the HF Trainer", all(decays(k) for k in factors))
    named = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in factors.items())
    cfg = StepConfig(beta=0.5)
    with torch.no_grad():
        R = sequence_stats(base, d, batch)[0] + torch.tensor([0.3, -0.2, -0.4, 0.1, 0.2, -0.3], dtype=torch.float64)[:2 * len(pairs)]
    S, n, m = sequence_stats(with_lora(base, named, spec, d), d, batch)
    preference_loss(S, n, m, R, cfg)[0].backward()

    def f():
        with torch.no_grad():
            S2, n2, m2 = sequence_stats(with_lora(base, named, spec, d), d, batch)
            return float(preference_loss(S2, n2, m2, R, cfg)[0])

    worst = worst_fd_error(named, (peft_key(0, "q_proj", "A"), peft_key(0, "q_proj", "B"), peft_key(1, "down_proj", "A"),
                                   peft_key(2, "up_proj", "B"), peft_key(2, "o_proj", "A")), f, torch.Generator().manual_seed(3))
    ck.close("LoRA finite differences of A and B (sigmoid)", worst, 0.0, 1e-7)


# name, checkpoint, pairs, step flags, LoRA settings, adapter seed, negative controls [(what, step settings, LoRA settings)]
LORA_CASES = [
    ("lora-tiny-sigmoid", "e2e/fixtures/checkpoints/tiny-l3-f32-2shard", "TINY_PAIRS_3",
     ["--loss_type", "sigmoid", "--beta", "0.1", "--learning_rate", "1e-3"], LoraSpec(r=4, alpha=8.0), 1,
     [("reference with the adapter on", dict(knobs={"reference_with_adapter": True}), None),
      ("scale alpha/√r (rsLoRA) instead of alpha/r", {}, LoraSpec(r=4, alpha=8.0, use_rslora=True))]),
    ("lora-tiny-rslora-weight-decay", "e2e/fixtures/checkpoints/tiny-l3-f32-2shard", "TINY_PAIRS_2",
     ["--loss_type", "ipo", "--beta", "0.5", "--learning_rate", "5e-3", "--weight_decay", "2"],
     LoraSpec(r=3, alpha=6.0, targets=("q_proj", "v_proj", "gate_proj", "down_proj"), use_rslora=True), 2,
     [("scale alpha/r instead of alpha/√r", {}, LoraSpec(r=3, alpha=6.0, targets=("q_proj", "v_proj", "gate_proj", "down_proj"))),
      ("LoRA factors not decayed", dict(knobs={"flip_decay": lambda k: ".lora_" in k}), None)]),
    ("lora-tiny-simpo-rmsprop-clip", "e2e/fixtures/checkpoints/tiny-l3-f32-2shard", "TINY_PAIRS_3",
     ["--loss_type", "simpo", "--beta", "2", "--simpo_gamma", "0.5", "--cpo_alpha", "0.5", "--optim", "rmsprop",
      "--learning_rate", "1e-4", "--max_grad_norm", "0.05"],
     LoraSpec(r=2, alpha=4.0, targets=("k_proj", "o_proj", "up_proj")), 3,
     [("no clipping", dict(max_grad_norm=None), None)]),
    ("lora-demo-sigmoid", "public/demo/model", "DEMO",
     ["--loss_type", "sigmoid", "--beta", "0.1", "--learning_rate", "1e-3"],
     LoraSpec(r=2, alpha=16.0, targets=("q_proj", "v_proj", "down_proj")), 4,
     [("reference with the adapter on", dict(knobs={"reference_with_adapter": True}), None)]),
]


def write_lora_fixtures(ck):
    os.makedirs(LORA_DIR, exist_ok=True)
    pair_sets = {"TINY_PAIRS_3": TINY_PAIRS_3, "TINY_PAIRS_2": TINY_PAIRS_2, "DEMO": demo_pairs([1, 6, 9])}
    parser = build_parser()
    for name, model, pairs_name, flags, spec, seed, controls in LORA_CASES:
        config, params32, dtypes = load_checkpoint(os.path.join(ROOT, model))
        d = Dims(config)
        pairs = pair_sets[pairs_name]
        adapter = init_adapter(d, spec, seed)
        cfg = config_from_args(parser.parse_args(["--model", model, "--pairs", "-", "--report", "-"] + flags))
        tol = {}
        report = run_step(params32, d, pairs, cfg, tolerances=tol, lora=(spec, adapter))
        f32 = run_step(params32, d, pairs, cfg, torch.float32, lora=(spec, adapter))
        bad = compare(f32, report, tol)
        ck.true(f"{name}: the same step in PyTorch float32 passes the test's tolerances", not bad, "; ".join(bad[:3]))
        control_reports = []
        for what, extra, other_spec in controls:
            other = run_step(params32, d, pairs, StepConfig(**{**vars_of(cfg), **extra}), lora=(other_spec or spec, adapter))
            diff = compare(other, report, tol)
            ck.true(f"{name}: control '{what}' fails the comparison", bool(diff), f"{len(diff)} mismatches, e.g. {diff[:1]}")
            control_reports.append({"what": what, "report": other})
        fixture = OrderedDict([
            ("about", "Reference report of one LoRA step (scripts/goldens/step_reference.py, float64, LORA_CASES): the "
                      "`step` flags `args` with the LoRA settings `lora_args` on the frozen `model`, starting from `adapter`. "
                      "Regenerate: /usr/bin/python3 scripts/goldens/step_reference.py --write-lora-fixtures"),
            ("model", model), ("storage", sorted(set(dtypes.values()))), ("args", flags), ("lora_args", spec.args()),
            ("pairs", {"pairs": pairs}),
            ("adapter", OrderedDict((k, {"shape": list(v.shape), "values": [float(f"{float(x):.9g}") for x in v.reshape(-1)]})  # 9 digits: the f32 exactly
                                 for k, v in adapter.items())),
            ("expected", report),
            ("tolerances", OrderedDict([("values_atol", TOLERANCES["values_atol"]), ("values_rtol", TOLERANCES["values_rtol"]),
                                        ("grad_rtol", TOLERANCES["grad_rtol"]), ("params_sum", tol["params_sum"]),
                                        ("params_first", tol["params_first"]), ("grads_first", tol["grads_first"])])),
            ("pytorch_f32_deviation", deviation(f32, report)),
            ("controls", control_reports),
        ])
        with open(os.path.join(LORA_DIR, f"{name}.json"), "w") as f:
            f.write(dumps(fixture))
        dev = fixture["pytorch_f32_deviation"]
        print(f"  {name:<30} loss {report['loss']:.6g}  grad_norm {report['grad_norm']:.4g}  "
              f"f32 dev: loss {dev['loss']:.1e} params {dev['params_max']:.1e} grads(rel) {dev['grad_norms_rel']:.1e}")
        sanity_checks(ck, name, report, adapter, cfg, tol)
        ck.true(f"{name}: the adapter moves the policy away from the reference",
                cfg.reference_free or any(abs(p["chosen_logp"] - p["ref_chosen_logp"]) > 1e-3 for p in report["pairs"]))


# ============================================================================ fixtures

TINY = "e2e/fixtures/checkpoints/tiny-l3-f32-2shard"  # V 50, 3 layers (2 sliding, W 3), both softcaps, 2 shards
DEMO = "public/demo/model"  # V 512, 4 layers, W 16, BF16 in 2 shards (widened to f32 on load)

TINY_PAIRS_3 = [  # ragged: prompts 1..7 tokens, completions 1..6; most rows are longer than the window (3)
    {"prompt": [2, 5, 9, 11], "chosen": [7, 8, 1], "rejected": [12, 13, 14, 15, 1]},
    {"prompt": [2, 20], "chosen": [30, 31, 32, 33, 34, 1], "rejected": [36, 1]},
    {"prompt": [2, 40, 41, 42, 43, 44, 45], "chosen": [1], "rejected": [23, 24, 25, 26, 1]},
]
TINY_PAIRS_2 = [
    {"prompt": [2], "chosen": [17, 18, 19, 1], "rejected": [27, 1]},
    {"prompt": [2, 3, 4, 6, 10, 16], "chosen": [21, 22, 1], "rejected": [46, 47, 48, 49, 3, 1]},
]
# For WPO the tiny pairs are built from the tiny model's own greedy continuations: its random weights
# make it very peaked (top-1 p ≈ 0.99+; it mostly repeats the last token), so the varied tokens above
# have lp ≈ −20 and WPO weights ≈ e^-40. Greedy tokens give m ≈ +0.003 (w slightly above 1: clamped),
# a runner-up token at one position pulls m well below 0 (w < 1): the clamp fixtures have pairs on
# both sides of 1.
# (prompt, chosen (length, positions that take the runner-up token), rejected (length, positions))
TINY_SPECS_3 = [  # prompts as TINY_PAIRS_3, completions 1..7 tokens
    ([2, 5, 9, 11], (3, []), (5, [])),
    ([2, 20], (7, []), (2, [0])),
    ([2, 40, 41, 42, 43, 44, 45], (1, []), (5, [2])),
]
def greedy_pairs(model, specs):
    """Pairs whose completions follow the model's argmax, except at the listed positions (runner-up)."""
    config, params32, _ = load_checkpoint(os.path.join(ROOT, model))
    d = Dims(config)
    P = {k: v.double() for k, v in params32.items()}

    def continue_(prefix, length, runner_up):
        ids = list(prefix)
        for j in range(length):
            with torch.no_grad():
                z = forward(P, d, torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.int64))[0, -1]
            ids.append(int(torch.topk(z, 2).indices[1 if j in runner_up else 0]))
        return ids[len(prefix):]

    return [{"prompt": prompt, "chosen": continue_(prompt, *chosen), "rejected": continue_(prompt, *rejected)}
            for prompt, chosen, rejected in specs]


def demo_pairs(indices):
    with open(os.path.join(ROOT, "public", "demo", "samples.json")) as f:
        samples = json.load(f)["samples"]
    return [{"prompt": samples[i]["prompt_ids"], "chosen": samples[i]["chosen_ids"], "rejected": samples[i]["rejected_ids"]}
            for i in indices]


def not_norm(k):
    return not k.endswith("norm.weight")


# name, checkpoint, pairs, CLI flags, negative controls [(what, extra settings)]
# lr 1e-3 with AdamW moves every weight by ~1e-3 (the first Adam step is lr·g/(|g|+eps)), so params_after
# differs from the checkpoint by far more than the f32 noise.
CASES = [
    ("tiny-sigmoid", TINY, TINY_PAIRS_3, ["--loss_type", "sigmoid", "--beta", "0.1", "--learning_rate", "1e-3"],
     [("beta 0.12 instead of 0.1", dict(beta=0.12))]),
    ("tiny-sigmoid-label-smoothing", TINY, TINY_PAIRS_3,
     ["--loss_type", "sigmoid", "--beta", "0.5", "--label_smoothing", "0.2", "--learning_rate", "1e-3"],
     [("no label smoothing", dict(label_smoothing=0.0))]),
    ("tiny-ipo", TINY, TINY_PAIRS_3, ["--loss_type", "ipo", "--beta", "0.5", "--learning_rate", "1e-3"], []),
    ("tiny-hinge", TINY, TINY_PAIRS_2, ["--loss_type", "hinge", "--beta", "4", "--learning_rate", "1e-3"], []),
    ("tiny-simpo", TINY, TINY_PAIRS_3,
     ["--loss_type", "simpo", "--beta", "2", "--simpo_gamma", "0.5", "--learning_rate", "1e-3"], []),
    ("tiny-simpo-cpo-alpha", TINY, TINY_PAIRS_3,
     ["--loss_type", "simpo", "--beta", "2", "--simpo_gamma", "0.5", "--cpo_alpha", "0.5", "--learning_rate", "1e-3"],
     [("cpo_alpha 0", dict(cpo_alpha=0.0))]),
    ("tiny-wpo-clamp", TINY, TINY_SPECS_3, ["--use_weighting", "--beta", "0.1", "--learning_rate", "1e-3"],
     [("no clamp", dict(wpo_no_clamp=True))]),
    ("tiny-wpo-no-clamp", TINY, TINY_SPECS_3,
     ["--use_weighting", "--wpo_no_clamp", "--beta", "0.1", "--learning_rate", "1e-3"], []),
    ("tiny-sppo-hard", TINY, TINY_PAIRS_2, ["--loss_type", "sppo_hard", "--beta", "0.5", "--learning_rate", "1e-3"], []),
    ("tiny-sigmoid-sft", TINY, TINY_PAIRS_3,
     ["--loss_type", "sigmoid,sft", "--loss_weights", "1,0.3", "--beta", "0.1", "--learning_rate", "1e-3"],
     [("sft weight 1 instead of 0.3", dict(loss_weights=[1.0, 1.0]))]),
    ("tiny-adamw-weight-decay", TINY, TINY_PAIRS_3,
     ["--beta", "0.1", "--learning_rate", "5e-3", "--weight_decay", "2"],
     [("norm weights decayed too (transformers <= 4.44 grouping)", dict(knobs={"flip_decay": lambda k: not not_norm(k)})),
      ("embedding not decayed", dict(knobs={"flip_decay": lambda k: k == "model.embed_tokens.weight"}))]),
    ("tiny-adamw-clip", TINY, TINY_PAIRS_3,
     ["--beta", "0.1", "--learning_rate", "1e-3", "--max_grad_norm", "1e-5"],
     [("no clipping", dict(max_grad_norm=None))]),
    ("tiny-rmsprop", TINY, TINY_PAIRS_2,
     ["--beta", "0.1", "--optim", "rmsprop", "--learning_rate", "1e-4", "--weight_decay", "0.5"],
     [("AdamW instead of RMSprop", dict(optim="adamw_torch"))]),
    ("demo-sigmoid", DEMO, demo_pairs([1, 6, 9]), ["--loss_type", "sigmoid", "--beta", "0.1", "--learning_rate", "1e-3"],
     [("beta 0.12 instead of 0.1", dict(beta=0.12))]),
    ("demo-wpo-clamp", DEMO, demo_pairs([0, 3, 7]), ["--use_weighting", "--beta", "0.1", "--learning_rate", "1e-3"],
     [("no clamp", dict(wpo_no_clamp=True))]),
    ("demo-simpo", DEMO, demo_pairs([2, 5, 10]),
     ["--loss_type", "simpo", "--beta", "2", "--simpo_gamma", "1", "--learning_rate", "1e-3"], []),
    ("demo-rmsprop-clip", DEMO, demo_pairs([4, 11]),
     ["--loss_type", "sigmoid", "--beta", "0.1", "--optim", "rmsprop", "--learning_rate", "1e-4",
      "--weight_decay", "0.5", "--max_grad_norm", "0.5"], []),
]


def write_fixtures(ck):
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    loaded = {}
    parser = build_parser()
    specs = {}
    for name, model, pairs, flags, controls in CASES:
        if pairs is TINY_SPECS_3:  # greedy specs -> pairs
            pairs = specs.setdefault(id(pairs), greedy_pairs(model, pairs))
        if model not in loaded:
            config, params32, dtypes = load_checkpoint(os.path.join(ROOT, model))
            loaded[model] = (Dims(config), params32, sorted(set(dtypes.values())))
        d, params32, storage = loaded[model]
        a = parser.parse_args(["--model", model, "--pairs", "-", "--report", "-"] + flags)
        cfg = config_from_args(a)
        tol = {}
        report = run_step(params32, d, pairs, cfg, tolerances=tol)
        f32 = run_step(params32, d, pairs, cfg, torch.float32)
        bad = compare(f32, report, tol)
        ck.true(f"{name}: the same step in PyTorch float32 passes the test's tolerances", not bad, "; ".join(bad[:3]))
        control_reports = []
        for what, extra in controls:
            other = run_step(params32, d, pairs, StepConfig(**{**vars_of(cfg), **extra}))
            diff = compare(other, report, tol)
            ck.true(f"{name}: control '{what}' fails the comparison", bool(diff), f"{len(diff)} mismatches, e.g. {diff[:1]}")
            control_reports.append({"what": what, "report": other})
        fixture = OrderedDict([
            ("about", "Reference report of `prefstudio step` for `args` on `pairs` (scripts/goldens/step_reference.py, "
                      "float64). Regenerate: /usr/bin/python3 scripts/goldens/step_reference.py --write-fixtures"),
            ("model", model), ("storage", storage), ("args", flags), ("pairs", {"pairs": pairs}),
            ("expected", report),
            ("tolerances", OrderedDict([("values_atol", TOLERANCES["values_atol"]), ("values_rtol", TOLERANCES["values_rtol"]),
                                        ("grad_rtol", TOLERANCES["grad_rtol"]), ("params_sum", tol["params_sum"]),
                                        ("params_first", tol["params_first"])])),
            ("pytorch_f32_deviation", deviation(f32, report)),
            ("controls", control_reports),
        ])
        with open(os.path.join(FIXTURE_DIR, f"{name}.json"), "w") as f:
            f.write(dumps(fixture))
        w = [round(p["weight"], 4) for p in report["pairs"]]
        dev = fixture["pytorch_f32_deviation"]
        print(f"  {name:<30} loss {report['loss']:.6g}  grad_norm {report['grad_norm']:.4g}  weights {w}  "
              f"f32 dev: loss {dev['loss']:.1e} params {dev['params_max']:.1e} grads(rel) {dev['grad_norms_rel']:.1e}")
        sanity_checks(ck, name, report, params32, cfg, tol)


def dumps(obj):
    """JSON with one key per line but every list of numbers / strings on one line."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def vars_of(cfg):
    return dict(loss_type=cfg.loss_type, loss_weights=cfg.loss_weights, use_weighting=cfg.use_weighting,
                wpo_no_clamp=not cfg.wpo_clamp, beta=cfg.beta, simpo_gamma=cfg.simpo_gamma, cpo_alpha=cfg.cpo_alpha,
                label_smoothing=cfg.label_smoothing, learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                optim=cfg.optim, max_grad_norm=cfg.max_grad_norm)


def deviation(f32, ref):
    """How far the same step in PyTorch float32 lands from the float64 reference (informational)."""
    keys = list(ref["pairs"][0])
    return {
        "loss": abs(f32["loss"] - ref["loss"]),
        "pairs_max": max(abs(p[k] - q[k]) for p, q in zip(f32["pairs"], ref["pairs"]) for k in keys),
        "grad_norms_rel": max(abs(f32["grad_norms"][k] - v) / v for k, v in ref["grad_norms"].items() if v > 0),
        "params_max": max(max(abs(x - y) for x, y in zip(f32["params_after"][k]["first"], v["first"]))
                          for k, v in ref["params_after"].items()),
        "params_sum": OrderedDict((k, abs(f32["params_after"][k]["sum"] - v["sum"])) for k, v in ref["params_after"].items()),
    }


def sanity_checks(ck, name, report, params32, cfg, tol):
    """Properties every fixture must have to be a useful test."""
    # (the embedding's first values are row 0, the pad token: its gradient is ~0, only decay moves it)
    moved = min(max(abs(x - float(y)) for x, y in zip(v["first"], params32[k].reshape(-1)[:N_FIRST]))
                for k, v in report["params_after"].items() if k != "model.embed_tokens.weight")
    ck.true(f"{name}: every tensor's first values moved by > 10× their tolerance", moved > 10 * TOLERANCES["params_first_atol"],
            f"smallest max move {moved:.1e}")
    sums = sum(abs(v["sum"] - float(params32[k].double().sum())) > tol["params_sum"][k] for k, v in report["params_after"].items())
    ck.rows.append(f"  info {name}: {sums}/{len(report['params_after'])} tensor sums moved by more than their tolerance")
    if cfg.max_grad_norm is not None:
        ck.true(f"{name}: clipping active", report["grad_norm"] > cfg.max_grad_norm,
                f"grad_norm {report['grad_norm']:.3g} vs max {cfg.max_grad_norm}")
    if cfg.use_weighting and cfg.wpo_clamp:
        raw = [p["weight"] for p in report["pairs"]]
        ck.true(f"{name}: clamp active on some pair, not on all", 1.0 in raw and min(raw) < 1.0, str(raw))


# ============================================================================ main


def main():
    a = build_parser().parse_args()
    torch.set_num_threads(1)  # deterministic reductions
    if a.check or a.write_fixtures or a.write_lora_fixtures:
        ck = Checks()
        check_spec_example(ck)
        _, params32, _ = load_checkpoint(os.path.join(ROOT, TINY))
        config = json.load(open(os.path.join(ROOT, TINY, "config.json")))
        check_grouping(ck, list(params32))
        check_optimizer_first_step(ck)
        check_finite_differences(ck, params32, Dims(config), TINY_PAIRS_3, greedy_pairs(TINY, TINY_SPECS_3))
        check_lora(ck, params32, Dims(config), TINY_PAIRS_3)
        if a.write_fixtures:
            print("fixtures:")
            write_fixtures(ck)
        if a.write_fixtures or a.write_lora_fixtures:
            print("LoRA fixtures:")
            write_lora_fixtures(ck)
        print("self-checks:")
        print("\n".join(ck.rows))
        if ck.failed:
            sys.exit(f"{ck.failed} self-check(s) FAILED")
        print("all self-checks passed")
        return
    missing = [f for f in ("model", "pairs", "report") if getattr(a, f) is None]
    if missing:
        sys.exit(f"--{missing[0]} is required (see --help)")
    try:
        cfg = config_from_args(a)
        config, params32, _ = load_checkpoint(a.model)
        d = Dims(config)
        pairs = read_pairs(a.pairs, d.V)
    except (ValueError, OSError) as e:
        sys.exit(str(e))
    report = run_step(params32, d, pairs, cfg, getattr(torch, a.dtype))
    text = dumps(report)
    if a.report == "-":
        sys.stdout.write(text)
    else:
        with open(a.report, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
