// Optimizer layer on the GPU against the float64 references (src/engine/reference/optim.ts):
// several steps of AdamW and RMSProp (every kernel configuration), clipGradNorm above and below
// maxNorm feeding the optimizers' clip input, and the non-finite flag.
// Not autograd ops, so no checkOp: each case drives the optimizer for a few steps with gradients
// written into `.grad`, then compares parameters and state with the reference run on the same
// f32-rounded inputs.
import type { Engine } from '../../engine.ts';
import type { Tensor } from '../../tensor.ts';
import { AdamW, type AdamWOptions } from '../../optim/adamw.ts';
import { RMSProp, type RMSPropOptions } from '../../optim/rmsprop.ts';
import { clipGradNorm, type GradClip } from '../../optim/clip.ts';
import { lrAt } from '../../optim/schedule.ts';
import {
  adamwStateRef,
  adamwStepRef,
  clipGradNormRef,
  rmspropStateRef,
  rmspropStepRef,
  type AdamWStateRef,
  type RMSpropStateRef,
} from '../../reference/optim.ts';
import { expectClose, Rng, type GpuCase, type Tol } from '../harness.ts';

// Tolerances: f32 state and arithmetic vs float64, a handful of steps. Parameters are O(1) and
// move by ≤ lr per step with ~1e-7 relative error per step; m and v carry f32 rounding of their
// running sums, whose cancellation error is relative to the gradient scale σ (atol σ·1e-7 for m,
// σ²·1e-7 for v); the clip norm is a sum of ≤ 15k squares in f32 (fixed tree order).
const paramTol: Tol = { atol: 2e-6, rtol: 2e-6 };
const stateTol = (sigma: number): Tol => ({ atol: 1e-7 * sigma, rtol: 2e-5 });
const normTol: Tol = { atol: 0, rtol: 1e-5 };

const f32r = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));

interface Param {
  gpu: Tensor;
  ref: Float64Array; // float64 copy, stepped by the reference
  weightDecay: number;
}

/** Parameters of the given sizes, uniform in [-1, 1), on the GPU and as float64 copies. */
function makeParams(e: Engine, rng: Rng, sizes: number[], weightDecay: number): Param[] {
  return sizes.map((n, i) => {
    const x = f32r(rng.array(n));
    return { gpu: e.tensor(Float32Array.from(x), [n], { requiresGrad: true, label: `p${i}[${n}]` }), ref: x, weightDecay };
  });
}

/** Writes fresh N(0, scale²) gradients (f32-rounded) into `.grad`; returns them (null: no grad). */
function setGrads(e: Engine, rng: Rng, ps: Param[], scale: number, skip: Set<number> = new Set()): (Float64Array | null)[] {
  return ps.map((p, i) => {
    p.gpu.zeroGrad();
    if (skip.has(i)) return null;
    const g = f32r(rng.normals(p.ref.length, scale));
    p.gpu.grad = e.tensor(Float32Array.from(g), [g.length], { label: `${p.gpu.label}.grad` });
    return g;
  });
}

interface AdamWRun {
  opts: Required<Pick<AdamWOptions, 'betas' | 'eps'>>;
  lrs: number[]; // one per step
  /** Per step: parameter indices without a gradient (skipped; their t does not advance). */
  skip?: number[][];
  /** clipGradNorm(maxNorm) before every step. */
  maxNorm?: number;
  gradScale?: number;
}

/** Runs AdamW and its reference side by side over `groups` of parameters, then compares. */
async function checkAdamW(e: Engine, name: string, groups: Param[][], run: AdamWRun): Promise<void> {
  const rng = new Rng(99);
  const ps = groups.flat();
  const opt = new AdamW(
    groups.map((g) => ({ params: g.map((p) => p.gpu), weightDecay: g[0].weightDecay })),
    { lr: 123, ...run.opts }, // base lr unused: every step passes its own
  );
  const st: AdamWStateRef[] = ps.map((p) => adamwStateRef(p.ref.length));
  for (let t = 0; t < run.lrs.length; t++) {
    const gs = setGrads(e, rng, ps, run.gradScale ?? 1, new Set(run.skip?.[t] ?? []));
    const { clip, scale } = await clipBoth(opt.params, gs, run.maxNorm, `${name} step ${t}`);
    opt.step({ lr: run.lrs[t], clip });
    clip?.dispose();
    ps.forEach((p, i) => {
      const g = gs[i];
      if (g) adamwStepRef(p.ref, g, st[i], { lr: run.lrs[t], beta1: run.opts.betas[0], beta2: run.opts.betas[1], eps: run.opts.eps, weightDecay: p.weightDecay }, scale);
    });
  }
  for (const [i, p] of ps.entries()) {
    const s = opt.state(p.gpu);
    if (!s) throw new Error(`${name}: no AdamW state for ${p.gpu.label}`);
    if (s.step !== st[i].step) throw new Error(`${name}: ${p.gpu.label} took ${s.step} steps, reference ${st[i].step}`);
    expectClose(await p.gpu.read(), p.ref, paramTol, `${name} ${p.gpu.label}`);
    const sigma = run.gradScale ?? 1;
    expectClose(await s.m.read(), st[i].m, stateTol(sigma), `${name} ${p.gpu.label}.m`);
    expectClose(await s.v.read(), st[i].v, stateTol(sigma * sigma), `${name} ${p.gpu.label}.v`);
  }
  opt.dispose();
  ps.forEach((p) => p.gpu.dispose());
}

async function checkRMSProp(e: Engine, name: string, ps: Param[], opts: RMSPropOptions & { lr: number }, steps: number, maxNorm?: number): Promise<void> {
  const rng = new Rng(5);
  const opt = new RMSProp(ps.map((p) => p.gpu), opts);
  const h = { lr: opts.lr, alpha: opts.alpha ?? 0.99, eps: opts.eps ?? 1e-8, weightDecay: opts.weightDecay ?? 0, momentum: opts.momentum ?? 0, centered: opts.centered ?? false };
  const st: RMSpropStateRef[] = ps.map((p) => rmspropStateRef(p.ref.length));
  for (let t = 0; t < steps; t++) {
    const gs = setGrads(e, rng, ps, 0.5);
    const { clip, scale } = await clipBoth(opt.params, gs, maxNorm, `${name} step ${t}`);
    opt.step({ clip });
    clip?.dispose();
    ps.forEach((p, i) => rmspropStepRef(p.ref, gs[i]!, st[i], h, scale));
  }
  for (const [i, p] of ps.entries()) {
    const s = opt.state(p.gpu)!;
    expectClose(await p.gpu.read(), p.ref, paramTol, `${name} ${p.gpu.label}`);
    expectClose(await s.squareAvg.read(), st[i].squareAvg, stateTol(0.25), `${name} ${p.gpu.label}.square_avg`);
    if (h.centered) expectClose(await s.gradAvg!.read(), st[i].gradAvg, stateTol(0.5), `${name} ${p.gpu.label}.grad_avg`);
    // The momentum buffer sums g/denom terms of either sign: allow the parameters' absolute error.
    if (h.momentum > 0) expectClose(await s.momentumBuffer!.read(), st[i].momentumBuffer, { atol: 1e-5, rtol: 2e-5 }, `${name} ${p.gpu.label}.momentum_buffer`);
  }
  opt.dispose();
  ps.forEach((p) => p.gpu.dispose());
}

/**
 * With maxNorm: clipGradNorm on the GPU, checked against clipGradNormRef on the same gradients;
 * returns the GPU result (for the optimizer) and the reference scale (for the reference step).
 */
async function clipBoth(params: Tensor[], gs: (Float64Array | null)[], maxNorm: number | undefined, what: string): Promise<{ clip?: GradClip; scale: number }> {
  if (maxNorm === undefined) return { scale: 1 };
  const clip = clipGradNorm(params, maxNorm);
  const ref = clipGradNormRef(gs.filter((g): g is Float64Array => g !== null), maxNorm);
  const got = await clip.read();
  expectClose([got.norm], [ref.norm], normTol, `${what} norm`);
  expectClose([got.scale], [ref.scale], normTol, `${what} scale`);
  if (got.nonFinite) throw new Error(`${what}: non-finite flag set for finite gradients`);
  return { clip, scale: ref.scale };
}

const sizes = [1, 7, 1000];
const rng = new Rng(2024);
// 5 steps of HF's cosine schedule with warmup: the first step runs at lr 0, as in HF.
const cosineLrs = [0, 1, 2, 3, 4].map((k) => lrAt(1e-2, { name: 'cosine', totalSteps: 5, warmupSteps: 1 }, k));

export const cases: GpuCase[] = [
  {
    name: 'optim: AdamW weight decay 0.01, sizes 1/7/1000, 5 cosine-scheduled steps',
    run: (e) => checkAdamW(e, 'adamw wd', [makeParams(e, rng, sizes, 0.01)], { opts: { betas: [0.9, 0.999], eps: 1e-8 }, lrs: cosineLrs }),
  },
  {
    name: 'optim: AdamW no weight decay, betas (0.8, 0.99), eps 1e-6, small gradients',
    run: (e) => checkAdamW(e, 'adamw nowd', [makeParams(e, rng, sizes, 0)], { opts: { betas: [0.8, 0.99], eps: 1e-6 }, lrs: [0.05, 0.05, 0.03], gradScale: 1e-3 }),
  },
  {
    name: 'optim: AdamW two param groups (decay 0.1 / 0) and a parameter without gradient at step 2',
    run: (e) =>
      checkAdamW(e, 'adamw groups', [makeParams(e, rng, [7, 1000], 0.1), makeParams(e, rng, [1, 33], 0)], {
        opts: { betas: [0.9, 0.999], eps: 1e-8 },
        lrs: [0.1, 0.1, 0.05, 0.02],
        skip: [[], [], [1, 2], []], // p1 (group 0) and p2 (group 1) skip step 2: t stays behind
      }),
  },
  {
    name: 'optim: RMSProp PyTorch defaults, sizes 1/7/1000, 3 steps',
    run: (e) => checkRMSProp(e, 'rmsprop defaults', makeParams(e, rng, sizes, 0), { lr: 0.01 }, 3),
  },
  {
    name: 'optim: RMSProp centered + momentum + weight decay, 3 steps',
    run: (e) => checkRMSProp(e, 'rmsprop full', makeParams(e, rng, sizes, 0.1), { lr: 0.005, alpha: 0.9, eps: 1e-6, weightDecay: 0.1, momentum: 0.9, centered: true }, 3),
  },
  {
    name: 'optim: RMSProp momentum only / centered only',
    run: async (e) => {
      await checkRMSProp(e, 'rmsprop momentum', makeParams(e, rng, [7, 1000], 0), { lr: 0.01, momentum: 0.5 }, 3);
      await checkRMSProp(e, 'rmsprop centered', makeParams(e, rng, [7, 1000], 0), { lr: 0.01, alpha: 0.95, centered: true }, 3);
    },
  },
  {
    name: 'optim: clipGradNorm above maxNorm (sizes 1/7/5000/9000, several workgroups) into AdamW',
    run: (e) => checkAdamW(e, 'clip above', [makeParams(e, rng, [1, 7, 5000, 9000], 0.01)], { opts: { betas: [0.9, 0.999], eps: 1e-8 }, lrs: [0.01, 0.01, 0.01], maxNorm: 1.0 }),
  },
  {
    name: 'optim: clipGradNorm below maxNorm (scale 1) into RMSProp',
    run: (e) => checkRMSProp(e, 'clip below', makeParams(e, rng, [7, 5000], 0), { lr: 0.01 }, 2, 1e4),
  },
  {
    name: 'optim: clipGradNorm is deterministic; Infinity = norm only; no gradients = norm 0',
    run: async (e) => {
      const ps = makeParams(e, rng, [3, 4097, 10000], 0);
      const gs = setGrads(e, rng, ps, 1);
      const a = clipGradNorm(ps.map((p) => p.gpu), 0.5);
      const b = clipGradNorm(ps.map((p) => p.gpu), 0.5);
      const [ra, rb] = [await a.read(), await b.read()];
      if (ra.norm !== rb.norm || ra.scale !== rb.scale) throw new Error(`clip not bit-identical across runs: ${ra.norm} vs ${rb.norm}`);
      const inf = clipGradNorm(ps.map((p) => p.gpu), Infinity);
      const ri = await inf.read();
      expectClose([ri.norm, ri.scale], [clipGradNormRef(gs as Float64Array[], 1).norm, 1], normTol, 'clip maxNorm=Infinity');
      ps.forEach((p) => p.gpu.zeroGrad());
      const none = clipGradNorm(ps.map((p) => p.gpu), 1);
      const rn = await none.read();
      if (rn.norm !== 0 || rn.scale !== 1 || rn.nonFinite) throw new Error(`clip without gradients: ${JSON.stringify(rn)}`);
      [a, b, inf, none].forEach((c) => c.dispose());
      ps.forEach((p) => p.gpu.dispose());
    },
  },
  {
    name: 'optim: non-finite gradients (NaN, ±Inf) or an overflowing norm set the flag by bit tests; scale stays 1',
    run: async (e) => {
      for (const [bad, flag] of [[NaN, 1], [Infinity, 1], [-Infinity, 1], [1e30, 2]] as const) {
        const ps = makeParams(e, rng, [7, 5000, 300], 0);
        const gs = setGrads(e, rng, ps, 1);
        // Plant the value in the 2nd workgroup's chunk of the 5000-element gradient. 1e30 is finite,
        // but its square overflows f32: the sum, not an element, becomes non-finite.
        const g1 = Float32Array.from(gs[1]!);
        g1[4500] = bad;
        ps[1].gpu.grad!.write(g1);
        const clip = clipGradNorm(ps.map((p) => p.gpu), 1);
        const [norm, scale, nonFinite] = await e.readMany([clip.norm, clip.scale, clip.nonFinite]);
        if (nonFinite[0] !== flag) throw new Error(`gradient with ${bad}: flag ${nonFinite[0]}, want ${flag}`);
        if (scale[0] !== 1) throw new Error(`gradient with ${bad}: the clip factor must be exactly 1 (never NaN), got ${scale[0]}`);
        const wantNorm = flag === 1 ? 'NaN' : 'Infinity';
        if (String(norm[0]) !== wantNorm) throw new Error(`gradient with ${bad}: norm ${norm[0]}, want ${wantNorm}`);
        // Finite gradients elsewhere leave the flag clear.
        const clean = clipGradNorm([ps[0].gpu, ps[2].gpu], 1);
        if ((await clean.read()).nonFinite) throw new Error('flag set for finite gradients');
        [clip, clean].forEach((c) => c.dispose());
        ps.forEach((p) => p.gpu.dispose());
      }
    },
  },
  {
    name: 'optim: a flagged step is skipped on the GPU (AdamW, RMSProp: parameters and state bit-identical), rollbackStep keeps AdamW on the reference',
    run: async (e) => {
      const bits = (x: ArrayLike<number>): string => Array.from(new Uint32Array(Float32Array.from(x).buffer)).join(',');
      const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
      const ps = makeParams(e, rng, [7, 5000], hyper.weightDecay);
      const opt = new AdamW(ps.map((p) => p.gpu), { lr: hyper.lr, weightDecay: hyper.weightDecay });
      const st = ps.map((p) => adamwStateRef(p.ref.length));
      const goodStep = async (): Promise<void> => {
        const gs = setGrads(e, rng, ps, 1);
        const { clip, scale } = await clipBoth(opt.params, gs, 1, 'skip case good step');
        opt.step({ clip });
        clip!.dispose();
        ps.forEach((p, i) => adamwStepRef(p.ref, gs[i]!, st[i], hyper, scale));
      };
      await goodStep();
      const snapshot = async (): Promise<string[]> => {
        const out: string[] = [];
        for (const p of ps) out.push(bits(await p.gpu.read()), bits(await opt.state(p.gpu)!.m.read()), bits(await opt.state(p.gpu)!.v.read()));
        return out;
      };
      const before = await snapshot();
      // A NaN in the first gradient only: the flag must stop the update of *every* parameter.
      const gs = setGrads(e, rng, ps, 1);
      const g0 = Float32Array.from(gs[0]!);
      g0[3] = NaN;
      ps[0].gpu.grad!.write(g0);
      const clip = clipGradNorm(opt.params, 1);
      opt.step({ clip });
      const flagged = (await clip.read()).nonFinite;
      clip.dispose();
      if (!flagged) throw new Error('NaN gradient did not set nonFinite');
      const after = await snapshot();
      after.forEach((b, i) => {
        if (b !== before[i]) throw new Error(`skipped AdamW step changed ${['p', 'm', 'v'][i % 3]} of ${ps[Math.floor(i / 3)].gpu.label}`);
      });
      opt.rollbackStep();
      if (opt.state(ps[0].gpu)!.step !== 1) throw new Error(`rollbackStep: step count ${opt.state(ps[0].gpu)!.step}, want 1`);
      // The next finite steps equal a reference run that never saw the bad step.
      await goodStep();
      await goodStep();
      for (const [i, p] of ps.entries()) {
        expectClose(await p.gpu.read(), p.ref, paramTol, `after a skipped step ${p.gpu.label}`);
        expectClose(await opt.state(p.gpu)!.v.read(), st[i].v, stateTol(1), `after a skipped step ${p.gpu.label}.v`);
      }
      opt.dispose();
      // RMSProp (centered + momentum: every state buffer) with an explicit skipIf flag and no clip.
      const rp = new RMSProp(ps.map((p) => p.gpu), { lr: 0.01, momentum: 0.9, centered: true });
      setGrads(e, rng, ps, 1);
      rp.step();
      const rstate = async (): Promise<string[]> => {
        const out: string[] = [];
        for (const p of ps) {
          const s = rp.state(p.gpu)!;
          out.push(bits(await p.gpu.read()), bits(await s.squareAvg.read()), bits(await s.gradAvg!.read()), bits(await s.momentumBuffer!.read()));
        }
        return out;
      };
      const r0 = await rstate();
      setGrads(e, rng, ps, 1);
      const skip = e.tensor([1], [1], { dtype: 'u32' });
      rp.step({ skipIf: skip });
      const r1 = await rstate();
      r1.forEach((b, i) => {
        if (b !== r0[i]) throw new Error(`skipped RMSProp step changed state ${i % 4} of ${ps[Math.floor(i / 4)].gpu.label}`);
      });
      // A clear flag lets the same step through.
      skip.write(Uint32Array.from([0]));
      rp.step({ skipIf: skip });
      const r2 = await rstate();
      if (r2[0] === r0[0]) throw new Error('RMSProp step with a clear skip flag did not update the parameter');
      let msg = '';
      const f32Flag = e.zeros([1]);
      try {
        rp.step({ skipIf: f32Flag });
      } catch (err) {
        msg = String(err);
      }
      f32Flag.dispose();
      if (!msg.includes('u32')) throw new Error(`an f32 skip flag should be refused naming the dtype, got: ${msg || 'no error'}`);
      rp.dispose();
      skip.dispose();
      ps.forEach((p) => p.gpu.dispose());
    },
  },
];
