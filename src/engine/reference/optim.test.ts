// The float64 optimizer references against PyTorch 1.13 (CPU, float64 tensors, so agreement is
// to ~1e-15). Values were produced by this snippet (/usr/bin/python3):
//
//   import torch
//   p0 = [0.5, -1.25, 2.0, 0.0]
//   G = [[0.1, -0.2, 0.3, -0.4], [-0.05, 0.6, 0.0, 1.5], [0.2, 0.2, -0.7, 0.01]]
//   def run(make, clip=None):
//       p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
//       opt = make([p]); norms = []
//       for t, g in enumerate(G):
//           p.grad = torch.tensor(g, dtype=torch.float64)
//           if clip is not None and t == 1:
//               norms.append(float(torch.nn.utils.clip_grad_norm_([p], clip)))
//           opt.step()
//       return p.detach(), opt.state[p], norms
//   run(lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1))
//   run(lambda ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.0), 0.5)
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.01))
//   run(lambda ps: torch.optim.RMSprop(ps, lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1,
//                                      momentum=0.9, centered=True))
//   # clip_grad_norm_ over a = [0.3, -1.2, 0.4], b = [2.0, -0.1] with max_norm 10 and 0.5
//
// printing p, the optimizer state (exp_avg, exp_avg_sq, square_avg, grad_avg, momentum_buffer)
// and the clipped gradients with repr(float(x)).

import { describe, expect, it } from 'vitest';
import { adamwStateRef, adamwStepRef, clipGradNormRef, rmspropStateRef, rmspropStepRef, type AdamWHyper, type RMSpropHyper } from './optim.ts';

const P0 = [0.5, -1.25, 2.0, 0.0];
const G = [
  [0.1, -0.2, 0.3, -0.4],
  [-0.05, 0.6, 0.0, 1.5],
  [0.2, 0.2, -0.7, 0.01],
].map((g) => Float64Array.from(g));

function expectAll(actual: Float64Array, expected: number[], tol = 1e-13): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]), `[${i}] ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]))));
}

describe('adamwStepRef', () => {
  it('matches torch.optim.AdamW over 3 steps (weight decay 0.1)', () => {
    const p = Float64Array.from(P0);
    const s = adamwStateRef(4);
    const h: AdamWHyper = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    for (const g of G) adamwStepRef(p, g, s, h);
    expect(s.step).toBe(3);
    expectAll(p, [0.2949609911583475, -1.2194805554525732, 1.8145914981404663, 0.0012569665689585313]);
    expectAll(s.m, [0.023599999999999996, 0.05779999999999999, -0.045699999999999984, 0.10359999999999997]);
    expectAll(s.v, [5.2477510000000055e-5, 0.00043956004000000035, 0.0005798200900000004, 0.0024075301600000017]);
  });

  it('matches torch with clip_grad_norm_(0.5) before step 2 (no decay, large eps)', () => {
    const p = Float64Array.from(P0);
    const s = adamwStateRef(4);
    const h: AdamWHyper = { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0 };
    G.forEach((g, t) => {
      let clip = 1;
      if (t === 1) {
        const c = clipGradNormRef([g], 0.5);
        expect(c.norm).toBeCloseTo(1.6163229875244614, 14);
        clip = c.scale;
      }
      adamwStepRef(p, g, s, h, clip);
    });
    expectAll(p, [0.38630676442136325, -1.2269311783206076, 1.9423479366217618, 0.033416796646599266]);
    expectAll(s.m, [0.05032524863154054, 0.044097016421513424, -0.10159999999999997, 0.025042541053783573]);
    expectAll(s.v, [0.0005003784181220063, 0.0011330922095688456, 0.0057820900000000045, 0.0037007363098052817]);
  });
});

describe('rmspropStepRef', () => {
  it('matches torch.optim.RMSprop with its defaults (lr 0.01, alpha 0.99, eps 1e-8)', () => {
    const p = Float64Array.from(P0);
    const s = rmspropStateRef(4);
    const h: RMSpropHyper = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false };
    for (const g of G) rmspropStepRef(p, g, s, h);
    expectAll(p, [0.3574274567414971, -1.2752187211405048, 1.9920567665627393, 0.002696793941403182]);
    expectAll(s.squareAvg, [0.0005227600000000005, 0.004356040000000004, 0.0057820900000000045, 0.023844160000000024]);
  });

  it('matches torch with weight decay, momentum and centered', () => {
    const p = Float64Array.from(P0);
    const s = rmspropStateRef(4);
    const h: RMSpropHyper = { lr: 0.02, alpha: 0.9, eps: 1e-6, weightDecay: 0.1, momentum: 0.9, centered: true };
    for (const g of G) rmspropStepRef(p, g, s, h);
    expectAll(p, [0.2649731673961662, -1.180688945470405, 1.8159446540690651, 0.060108403738409345]);
    expectAll(s.squareAvg, [0.007473889238966154, 0.03011337045131796, 0.05016407414318946, 0.21729074787140348]);
    expectAll(s.gradAvg, [0.03531424994341021, 0.02525604104242395, 0.0063732414425091465, 0.10483593320010794]);
    expectAll(s.momentumBuffer, [5.572524682057553, 0.18968325455523805, 1.5689545092257995, 0.17427081341107079]);
  });
});

describe('clipGradNormRef', () => {
  const a = Float64Array.from([0.3, -1.2, 0.4]);
  const b = Float64Array.from([2.0, -0.1]);

  it('leaves gradients alone below max_norm (scale 1)', () => {
    const c = clipGradNormRef([a, b], 10);
    expect(c.norm).toBeCloseTo(2.3874672772626644, 14);
    expect(c.scale).toBe(1);
    expect(c.nonFinite).toBe(false);
  });

  it('scales by max_norm / (norm + 1e-6) above it, as torch clip_grad_norm_', () => {
    const c = clipGradNormRef([a, b], 0.5);
    expectAll(Float64Array.from([...a, ...b].map((x) => x * c.scale)), [0.06282805992797587, -0.2513122397119035, 0.08377074657063449, 0.41885373285317246, -0.020942686642658623]);
  });

  it('flags NaN and Inf and propagates NaN into norm and scale', () => {
    const c = clipGradNormRef([a, Float64Array.from([1, NaN])], 1);
    expect(c.nonFinite).toBe(true);
    expect(c.norm).toBeNaN();
    expect(c.scale).toBeNaN();
    const d = clipGradNormRef([Float64Array.from([Infinity])], 1);
    expect(d.nonFinite).toBe(true);
    expect(d.norm).toBe(Infinity);
  });
});
