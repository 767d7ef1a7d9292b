// HF transformers' LR schedules: hand-computed values from the formulas, and the learning rates
// torch's LambdaLR sets for each optimizer step (torch 1.13, /usr/bin/python3), produced by:
//
//   import math, torch
//   from functools import partial
//   # the lr_lambdas of transformers/optimization.py, restated
//   def const_warm(s, *, w): return float(s) / float(max(1.0, w)) if s < w else 1.0
//   def linear(s, *, w, n):
//       if s < w: return float(s) / float(max(1, w))
//       return max(0.0, float(n - s) / float(max(1, n - w)))
//   def cosine(s, *, w, n, c=0.5):
//       if s < w: return float(s) / float(max(1, w))
//       p = float(s - w) / float(max(1, n - w))
//       return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(c) * 2.0 * p)))
//   N, W, base = 10, math.ceil(10 * 0.25), 1e-3          # W = 3
//   for lam in [partial(const_warm, w=W), partial(linear, w=W, n=N), partial(cosine, w=W, n=N)]:
//       p = torch.nn.Parameter(torch.zeros(1)); opt = torch.optim.SGD([p], lr=base)
//       sch = torch.optim.lr_scheduler.LambdaLR(opt, lam)
//       lrs = []
//       for _ in range(N + 2):
//           lrs.append(opt.param_groups[0]['lr']); opt.step(); sch.step()
//       print([repr(x) for x in lrs])

import { describe, expect, it } from 'vitest';
import { cosineLambda, linearLambda, lrAt, lrLambda, resolveWarmupSteps, type ScheduleOptions } from './schedule.ts';

function expectSeq(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  // Math.cos (V8) and glibc's cos may differ in the last bit.
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]), `step ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(1e-15 * Math.abs(expected[i]) + 1e-20));
}

const lrs = (opts: ScheduleOptions, n: number, base = 1e-3): number[] => Array.from({ length: n }, (_, k) => lrAt(base, opts, k));

describe('warmup steps (HF TrainingArguments.get_warmup_steps)', () => {
  it('uses warmup_steps when > 0, else ceil(total · ratio)', () => {
    expect(resolveWarmupSteps(10, 0, 0.25)).toBe(3); // ceil(2.5)
    expect(resolveWarmupSteps(1000, 0, 0.1)).toBe(100);
    expect(resolveWarmupSteps(100, 0, 0.07)).toBe(8); // 100·0.07 = 7.000000000000001 (python: math.ceil(100 * 0.07) == 8)
    expect(resolveWarmupSteps(10, 4, 0.5)).toBe(4); // steps win over the ratio
    expect(resolveWarmupSteps(10)).toBe(0);
    expect(() => resolveWarmupSteps(10, 0, 1.5)).toThrow(/warmupRatio/);
    expect(() => resolveWarmupSteps(10, 2.5)).toThrow(/warmupSteps/);
  });
});

describe('HF schedules as LambdaLR applies them (N = 10, warmup_ratio 0.25 → W = 3, base 1e-3)', () => {
  const common = { totalSteps: 10, warmupRatio: 0.25 };

  it('constant', () => {
    expectSeq(lrs({ name: 'constant', totalSteps: 10 }, 12), Array(12).fill(0.001));
  });

  it('constant_with_warmup', () => {
    expectSeq(lrs({ name: 'constant_with_warmup', ...common }, 12), [0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001]);
  });

  it('linear (get_linear_schedule_with_warmup)', () => {
    expectSeq(lrs({ name: 'linear', ...common }, 12), [
      0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0008571428571428571, 0.0007142857142857143, 0.0005714285714285714, 0.00042857142857142855, 0.0002857142857142857,
      0.00014285714285714284, 0.0, 0.0,
    ]);
  });

  it('cosine (get_cosine_schedule_with_warmup, num_cycles 0.5), unclamped past N as in HF', () => {
    expectSeq(lrs({ name: 'cosine', ...common }, 12), [
      0.0, 0.0003333333333333333, 0.0006666666666666666, 0.001, 0.0009504844339512095, 0.0008117449009293668, 0.0006112604669781572, 0.00038873953302184284, 0.00018825509907063325,
      4.9515566048790485e-5, 0.0, 4.951556604879043e-5,
    ]);
  });
});

describe('lr_lambdas by hand', () => {
  it('linear: W = 2, N = 6 → 0, ½, then (6 − k)/4', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((k) => linearLambda(k, 2, 6))).toEqual([0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0]);
  });

  it('cosine: W = 0, N = 4 → ½(1 + cos(πk/4))', () => {
    const got = [0, 1, 2, 3, 4].map((k) => cosineLambda(k, 0, 4));
    const want = [1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2), 0];
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 15));
  });

  it('cosine with num_cycles 1 returns to 1 at N', () => {
    expect(cosineLambda(4, 0, 4, 1)).toBeCloseTo(1, 15);
    expect(cosineLambda(2, 0, 4, 1)).toBeCloseTo(0, 15);
  });

  it('warmup with W = 0 and N = W do not divide by zero (max(1, ·))', () => {
    expect(linearLambda(0, 0, 0)).toBe(0);
    expect(cosineLambda(3, 3, 3)).toBe(1);
  });
});

describe('lrLambda validation', () => {
  it('rejects what HF would silently ignore or crash on', () => {
    expect(() => lrLambda({ name: 'constant', warmupSteps: 5 })).toThrow(/constant_with_warmup/);
    expect(() => lrLambda({ name: 'linear' })).toThrow(/totalSteps/);
    expect(() => lrLambda({ name: 'cosine', warmupRatio: 0.1 })).toThrow(/totalSteps/);
    expect(() => lrLambda({ name: 'linear', totalSteps: 10 })(-1)).toThrow(/step/);
    expect(() => lrLambda({ name: 'nope' as 'linear', totalSteps: 10 })).toThrow(/unknown schedule/);
  });
});
