// float64 references of the optimizer layer, written from PyTorch's documented algorithms
// (docs.pytorch.org: torch.optim.AdamW, torch.optim.RMSprop, torch.nn.utils.clip_grad_norm_),
// independently of src/gpu/shaders/optim.wgsl and grad_norm.wgsl. Plain loops, updates in place
// (as llm.c's adamw_update does). Not here: param groups, lazy state, scheduling — the callers
// (tests) keep one state object per parameter and pass the hyper-parameters of its group.

// ------------------------------------------------------------------------------------ AdamW

export interface AdamWHyper {
  lr: number; // γ, the learning rate of this step (already scheduled)
  beta1: number; // β1
  beta2: number; // β2
  eps: number; // ε, added after the square root of the bias-corrected v
  weightDecay: number; // λ, decoupled: θ ← θ·(1 − γλ)
}

export interface AdamWStateRef {
  m: Float64Array; // first moment, zero-initialised
  v: Float64Array; // second moment, zero-initialised
  step: number; // t: steps taken by this parameter so far
}

export function adamwStateRef(n: number): AdamWStateRef {
  return { m: new Float64Array(n), v: new Float64Array(n), step: 0 };
}

/**
 * One AdamW step on parameter `p` (updated in place) with gradient `g`, scaled first by `clip`
 * (the factor clip_grad_norm_ would have multiplied the gradient by). PyTorch's algorithm:
 *   t ← t + 1
 *   θ ← θ − γλθ                         (decoupled weight decay, before the moments)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   m̂ = m / (1 − β1ᵗ),  v̂ = v / (1 − β2ᵗ)
 *   θ ← θ − γ·m̂ / (√v̂ + ε)
 */
export function adamwStepRef(p: Float64Array, g: Float64Array, s: AdamWStateRef, h: AdamWHyper, clip = 1): void {
  s.step += 1;
  const bc1 = 1 - Math.pow(h.beta1, s.step);
  const bc2 = 1 - Math.pow(h.beta2, s.step);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * clip;
    p[i] -= h.lr * h.weightDecay * p[i];
    s.m[i] = h.beta1 * s.m[i] + (1 - h.beta1) * gi;
    s.v[i] = h.beta2 * s.v[i] + (1 - h.beta2) * gi * gi;
    const mHat = s.m[i] / bc1;
    const vHat = s.v[i] / bc2;
    p[i] -= (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
  }
}

// ---------------------------------------------------------------------------------- RMSprop

export interface RMSpropHyper {
  lr: number; // γ
  alpha: number; // α, smoothing of the squared-gradient average
  eps: number; // ε, added after the square root
  weightDecay: number; // λ, L2: g ← g + λθ (not decoupled)
  momentum: number; // μ (0: no momentum buffer)
  centered: boolean; // subtract the squared mean gradient from v
}

export interface RMSpropStateRef {
  squareAvg: Float64Array; // v
  gradAvg: Float64Array; // g_ave (centered only)
  momentumBuffer: Float64Array; // b (momentum > 0 only)
}

export function rmspropStateRef(n: number): RMSpropStateRef {
  return { squareAvg: new Float64Array(n), gradAvg: new Float64Array(n), momentumBuffer: new Float64Array(n) };
}

/**
 * One RMSprop step, in place. PyTorch's algorithm (g scaled by `clip` first):
 *   g ← g + λθ
 *   v ← α·v + (1 − α)·g²
 *   ṽ = v;  centered: g_ave ← α·g_ave + (1 − α)·g,  ṽ ← ṽ − g_ave²
 *   μ > 0:  b ← μ·b + g / (√ṽ + ε),  θ ← θ − γ·b
 *   else:   θ ← θ − γ·g / (√ṽ + ε)
 */
export function rmspropStepRef(p: Float64Array, g: Float64Array, s: RMSpropStateRef, h: RMSpropHyper, clip = 1): void {
  for (let i = 0; i < p.length; i++) {
    let gi = g[i] * clip;
    if (h.weightDecay !== 0) gi += h.weightDecay * p[i];
    s.squareAvg[i] = h.alpha * s.squareAvg[i] + (1 - h.alpha) * gi * gi;
    let vTilde = s.squareAvg[i];
    if (h.centered) {
      s.gradAvg[i] = h.alpha * s.gradAvg[i] + (1 - h.alpha) * gi;
      vTilde -= s.gradAvg[i] * s.gradAvg[i];
    }
    const denom = Math.sqrt(vTilde) + h.eps;
    if (h.momentum > 0) {
      s.momentumBuffer[i] = h.momentum * s.momentumBuffer[i] + gi / denom;
      p[i] -= h.lr * s.momentumBuffer[i];
    } else {
      p[i] -= (h.lr * gi) / denom;
    }
  }
}

// ----------------------------------------------------------------------------- clipping

export interface ClipRef {
  norm: number; // ‖g‖₂ over all gradients as one vector (NaN/Inf if any element is non-finite)
  scale: number; // min(1, maxNorm / (norm + 1e-6)): what every gradient gets multiplied by
  nonFinite: boolean; // some element is NaN or ±Inf
}

/**
 * torch.nn.utils.clip_grad_norm_ (L2): the total norm and the clip factor; grads untouched.
 * A non-finite step is skipped by our optimizers (optim.wgsl), so its scale is irrelevant there;
 * this reference keeps torch's arithmetic (NaN/0 scale) for the finite-case comparisons.
 */
export function clipGradNormRef(grads: Float64Array[], maxNorm: number): ClipRef {
  let sumSq = 0;
  let nonFinite = false;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) nonFinite = true;
      sumSq += g[i] * g[i];
    }
  }
  const norm = Math.sqrt(sumSq);
  return { norm, scale: Math.min(1, maxNorm / (norm + 1e-6)), nonFinite };
}
