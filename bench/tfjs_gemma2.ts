// The bench's TensorFlow.js baseline: one Gemma-2 preference training step (forward, backward,
// global-norm clipping, AdamW) written with tfjs-core ops and autograd (tf.variableGrads), run on
// the WebGPU backend. The same math as our trainer's step with DPO's sigmoid loss, so that both
// compute the same numbers from the same weights and batch (bench/train.ts compares the first
// step's loss and gradient norm before comparing speed):
//
//   h = E[ids]·√C; per layer: a = RMSNorm(h)(1+w); q,k,v = a·Wᵀ; RoPE (half split) on q, k;
//   GQA attention with scores·qpas^-½, cap·tanh(·/cap), then the causal (+ window on sliding layers)
//   and key-padding mask; o·Woᵀ; post-norm; residual; MLP gelu_tanh(gate)⊙up → down; post-norm;
//   residual; final norm; logits = cap·tanh(h·Eᵀ/cap) (tied head); log-softmax at the labels;
//   per-row sums S; DPO: −log σ(β((S_w − R_w) − (S_l − R_l))), mean over pairs.
//
// Written the way a tfjs user would: plain ops, GQA by folding the G query heads of a kv head into
// the row dimension ([R, KVH, G·T, HD] · [R, KVH, T, HD]ᵀ), the label gather as a one-hot product,
// additive masks (−1e9) built from a cached causal/window table and the batch's key-padding row.
// AdamW by hand (torch.optim.AdamW's update; weight decay skipped on norm weights as the HF Trainer).

import type * as TF from '@tensorflow/tfjs-core';
import type { Gemma2Dims } from '../src/engine/model/gemma2.ts';
import type { PackedRows } from '../src/engine/train/sequences.ts';

type Tf = typeof TF;

export interface TfjsStepOptions {
  beta: number;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** null = no clipping. */
  maxGradNorm: number | null;
}

const NEG = -1e9;
let instances = 0;

export class TfjsGemma2 {
  private readonly vars = new Map<string, TF.Variable>();
  private readonly m = new Map<string, TF.Variable>();
  private readonly v = new Map<string, TF.Variable>();
  private readonly masks = new Map<string, TF.Tensor>();
  private readonly rope = new Map<number, { cos: TF.Tensor; sin: TF.Tensor }>();
  private t = 0;

  /** `weights`: every parameter by Hugging Face name, f32, with its shape. */
  constructor(
    private readonly tf: Tf,
    private readonly d: Gemma2Dims,
    weights: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>,
  ) {
    const prefix = `bench${instances++}`; // variable names are global in tfjs
    for (const [name, w] of weights) {
      this.vars.set(name, tf.variable(tf.tensor(w.data, [...w.shape], 'float32'), true, `${prefix}.${name}`));
      this.m.set(name, tf.variable(tf.zeros([...w.shape]), false));
      this.v.set(name, tf.variable(tf.zeros([...w.shape]), false));
    }
  }

  /**
   * One optimizer step on a packed batch of 2B rows (chosen rows, then rejected rows) with
   * reference sums `ref` ([2B], the same row order). Resolves after one readback with the loss and
   * the gradient norm before clipping (both from before the update).
   */
  async step(batch: PackedRows, ref: Float32Array, o: TfjsStepOptions): Promise<{ loss: number; gradNorm: number }> {
    const { tf } = this;
    this.t += 1;
    const [b1, b2] = o.betas;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    const out = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.loss(batch, ref, o.beta));
      const names = [...this.vars.keys()];
      const grad = (n: string): TF.Tensor => {
        const g = grads[this.vars.get(n)!.name];
        if (!g) throw new Error(`tfjs: no gradient for ${n}`);
        return g;
      };
      // (not tf.addN: it binds every input at once, over the adapter's 8 storage buffers per stage)
      const norm = tf.sqrt(names.map((n) => tf.sum(tf.square(grad(n)))).reduce((a, b) => tf.add(a, b)));
      const coef = o.maxGradNorm === null ? tf.scalar(1) : tf.minimum(tf.scalar(1), tf.div(tf.scalar(o.maxGradNorm), tf.add(norm, 1e-6)));
      for (const n of names) {
        const p = this.vars.get(n)!;
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        const g = tf.mul(grad(n), coef);
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const decayed = o.weightDecay > 0 && !n.endsWith('norm.weight') ? tf.mul(p, 1 - o.lr * o.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), o.eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), o.lr / bc1)));
      }
      return tf.stack([value, norm]);
    });
    const host = await out.data();
    out.dispose();
    return { loss: host[0], gradNorm: host[1] };
  }

  dispose(): void {
    for (const map of [this.vars, this.m, this.v, this.masks]) for (const t of map.values()) t.dispose();
    for (const r of this.rope.values()) this.tf.dispose([r.cos, r.sin]);
  }

  // ------------------------------------------------------------------------------- the model

  private w(name: string): TF.Variable {
    return this.vars.get(name)!;
  }

  private rms(x: TF.Tensor, w: TF.Tensor): TF.Tensor {
    const { tf } = this;
    const inv = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), this.d.rmsNormEps));
    return tf.mul(tf.mul(x, inv), tf.add(w, 1));
  }

  private softcap(x: TF.Tensor, cap: number): TF.Tensor {
    return cap > 0 ? this.tf.mul(this.tf.tanh(this.tf.div(x, cap)), cap) : x;
  }

  /** cos/sin [1, T, 1, HD/2] of positions arange(T), inv_freq in f32 as transformers computes it. */
  private ropeTables(T: number): { cos: TF.Tensor; sin: TF.Tensor } {
    let r = this.rope.get(T);
    if (!r) {
      const half = this.d.HD / 2;
      const cos = new Float32Array(T * half);
      const sin = new Float32Array(T * half);
      for (let i = 0; i < half; i++) {
        const inv = Math.fround(1 / Math.fround(this.d.ropeTheta ** Math.fround((2 * i) / this.d.HD)));
        for (let t = 0; t < T; t++) {
          const a = Math.fround(t * inv);
          cos[t * half + i] = Math.cos(a);
          sin[t * half + i] = Math.sin(a);
        }
      }
      r = { cos: this.tf.keep(this.tf.tensor(cos, [1, T, 1, half])), sin: this.tf.keep(this.tf.tensor(sin, [1, T, 1, half])) }; // cached: kept out of the step's tidy
      this.rope.set(T, r);
    }
    return r;
  }

  /** x [R, T, H, HD] rotated: dimension i with i + HD/2. */
  private applyRope(x: TF.Tensor, T: number): TF.Tensor {
    const { tf } = this;
    const { cos, sin } = this.ropeTables(T);
    const [x1, x2] = tf.split(x, 2, 3);
    return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3);
  }

  /** Additive causal (and windowed) mask [G·T, T]: row g·T + q sees key k iff k ≤ q (and k > q − W). */
  private causalMask(T: number, window: number): TF.Tensor {
    const key = `${T}/${window}`;
    let m = this.masks.get(key);
    if (!m) {
      const G = this.d.NH / this.d.KVH;
      const a = new Float32Array(G * T * T);
      for (let g = 0; g < G; g++) {
        for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) a[(g * T + q) * T + k] = k <= q && (window <= 0 || k > q - window) ? 0 : NEG;
      }
      m = this.tf.keep(this.tf.tensor(a, [G * T, T])); // cached: kept out of the step's tidy
      this.masks.set(key, m);
    }
    return m;
  }

  private loss(batch: PackedRows, refSums: Float32Array, beta: number): TF.Scalar {
    const { tf, d } = this;
    const { R, T } = batch;
    const N = R * T;
    const G = d.NH / d.KVH;
    const E = this.w('model.embed_tokens.weight');
    const keyPad = tf.tensor(Float32Array.from(batch.attentionMask, (x) => (x ? 0 : NEG)), [R, 1, 1, T]);
    let h = tf.mul(tf.gather(E, tf.tensor1d(batch.ids, 'int32')), Math.fround(Math.sqrt(d.C))); // [N, C]
    for (let i = 0; i < d.L; i++) {
      const p = (s: string): TF.Variable => this.w(`model.layers.${i}.${s}.weight`);
      // attention
      const a = this.rms(h, p('input_layernorm'));
      const q = this.applyRope(tf.reshape(tf.matMul(a, p('self_attn.q_proj'), false, true), [R, T, d.NH, d.HD]), T);
      const k = this.applyRope(tf.reshape(tf.matMul(a, p('self_attn.k_proj'), false, true), [R, T, d.KVH, d.HD]), T);
      const v = tf.reshape(tf.matMul(a, p('self_attn.v_proj'), false, true), [R, T, d.KVH, d.HD]);
      const qg = tf.reshape(tf.transpose(tf.reshape(q, [R, T, d.KVH, G, d.HD]), [0, 2, 3, 1, 4]), [R, d.KVH, G * T, d.HD]);
      const kt = tf.transpose(k, [0, 2, 1, 3]); // [R, KVH, T, HD]
      const vt = tf.transpose(v, [0, 2, 1, 3]);
      let s = this.softcap(tf.mul(tf.matMul(qg, kt, false, true), d.queryPreAttnScalar ** -0.5), d.attnSoftcap); // [R, KVH, G·T, T]
      const window = d.layerTypes[i] === 'sliding' ? d.slidingWindow : 0;
      s = tf.add(tf.add(s, this.causalMask(T, window)), keyPad);
      const o = tf.matMul(tf.softmax(s), vt); // [R, KVH, G·T, HD]
      const heads = tf.reshape(tf.transpose(tf.reshape(o, [R, d.KVH, G, T, d.HD]), [0, 3, 1, 2, 4]), [N, d.NH * d.HD]);
      h = tf.add(h, this.rms(tf.matMul(heads, p('self_attn.o_proj'), false, true), p('post_attention_layernorm')));
      // MLP (GeGLU, tanh GELU)
      const m = this.rms(h, p('pre_feedforward_layernorm'));
      const gate = tf.matMul(m, p('mlp.gate_proj'), false, true);
      const up = tf.matMul(m, p('mlp.up_proj'), false, true);
      const inner = tf.mul(tf.add(gate, tf.mul(tf.pow(gate, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      const act = tf.mul(tf.mul(tf.mul(gate, 0.5), tf.add(tf.tanh(inner), 1)), up);
      h = tf.add(h, this.rms(tf.matMul(act, p('mlp.down_proj'), false, true), p('post_feedforward_layernorm')));
    }
    h = this.rms(h, this.w('model.norm.weight'));
    const logits = this.softcap(tf.matMul(h, E, false, true), d.finalSoftcap); // [N, V]
    const labels = tf.tensor1d(Int32Array.from(batch.labels, (x) => Math.max(x, 0)), 'int32');
    const onehot = tf.mul(tf.cast(tf.oneHot(labels, d.V), 'float32'), tf.tensor(batch.mask, [N, 1]));
    const logp = tf.sum(tf.mul(tf.logSoftmax(logits), onehot), -1); // [N], 0 where ignored
    const S = tf.sum(tf.reshape(logp, [R, T]), 1); // [R]
    const B = R / 2;
    const ref = tf.tensor1d(refSums);
    const diff = tf.sub(S, ref); // policy − reference per row
    const [w, l] = tf.split(diff, [B, B]);
    return tf.mean(tf.neg(tf.logSigmoid(tf.mul(tf.sub(w, l), beta)))) as TF.Scalar;
  }
}
