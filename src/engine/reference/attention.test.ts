import { describe, expect, it } from 'vitest';
import { attentionRef, type AttentionDims } from './attention.ts';

const seq = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
const expectAll = (got: Float64Array, want: number[]) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 14));
};

describe('attentionRef', () => {
  it('matches PyTorch eager attention: GQA 4:2, softcap bending the scores, window 3, key padding', () => {
    // Generated with (python3, torch 1.13, float64; HF eager formula, repeat_kv = repeat_interleave):
    //   B,T,NH,KVH,HD=2,6,4,2,4
    //   qi_=torch.arange(B*T*NH*HD,dtype=torch.float64); ki_=torch.arange(B*T*KVH*HD,dtype=torch.float64)
    //   q=torch.sin(0.37*qi_+0.1).reshape(B,T,NH,HD); k=(1.5*torch.cos(0.23*ki_)).reshape(B,T,KVH,HD)
    //   v=torch.sin(0.11*ki_+0.5).reshape(B,T,KVH,HD); scale,cap,W=3.0,2.0,3
    //   mask=torch.ones(B,T,dtype=torch.float64); mask[1,2]=0; mask[1,5]=0; G=NH//KVH
    //   qh=q.transpose(1,2); kh=k.transpose(1,2).repeat_interleave(G,dim=1); vh=v.transpose(1,2).repeat_interleave(G,dim=1)
    //   s=cap*torch.tanh((qh@kh.transpose(-1,-2))*scale/cap)          # max |s| before the cap: 15.97
    //   qi=torch.arange(T)[:,None]; kj=torch.arange(T)[None,:]
    //   vis=((kj<=qi)&(kj>qi-W))[None,None]&(mask[:,None,None,:]>0)
    //   o=(torch.softmax(s.masked_fill(~vis,float('-inf')),-1)@vh).transpose(1,2).contiguous().reshape(-1)
    const dims: AttentionDims = { B: 2, T: 6, NH: 4, KVH: 2, HD: 4 };
    const q = seq(192, (i) => Math.sin(0.37 * i + 0.1));
    const k = seq(96, (i) => 1.5 * Math.cos(0.23 * i));
    const v = seq(96, (i) => Math.sin(0.11 * i + 0.5));
    const keyMask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0];
    const o = attentionRef(q, k, v, dims, { scale: 3, softcap: 2, window: 3, keyMask });
    const want: [number, number][] = [
      [0, 0.479425538604203], [1, 0.5728674601004813], [17, 0.5817894178935679], [50, 0.7701337986015291],
      [95, -0.940356895698459], [96, -0.48221847174493154], [131, 0.23606307092393103],
      [150, 0.7040406705227485], [170, 0.27177097168047903], [191, -0.18454198335127425],
    ];
    for (const [i, x] of want) expect(o[i]).toBeCloseTo(x, 12);
    expect(o.reduce((a, x) => a + x, 0)).toBeCloseTo(47.715621469582246, 11);
    expect(o.reduce((a, x) => a + x * x, 0)).toBeCloseTo(63.69299683232081, 11);
  });

  it('T = 1: the only key gets probability 1, so o = v (per kv head of each query head)', () => {
    const dims: AttentionDims = { B: 1, T: 1, NH: 3, KVH: 1, HD: 2 };
    const o = attentionRef(Float64Array.from([5, -1, 2, 2, 0, 7]), Float64Array.from([3, 4]), Float64Array.from([0.25, -0.5]), dims, { scale: 1, softcap: 50 });
    expect(Array.from(o)).toEqual([0.25, -0.5, 0.25, -0.5, 0.25, -0.5]);
  });

  it('q = 0: uniform weights, o[q] is the mean of the visible values (causal, window, padding)', () => {
    const T = 5;
    const dims: AttentionDims = { B: 1, T, NH: 1, KVH: 1, HD: 1 };
    const v = Float64Array.from([1, 2, 4, 8, 16]);
    const k = Float64Array.from([3, -1, 2, 5, 0.5]);
    const q = new Float64Array(T);
    // causal only: prefix means
    expectAll(attentionRef(q, k, v, dims, { scale: 1 }), [1, 1.5, 7 / 3, 15 / 4, 31 / 5]);
    // window 2: the query and the key before it
    expectAll(attentionRef(q, k, v, dims, { scale: 1, window: 2 }), [1, 1.5, 3, 6, 12]);
    // key 1 padded
    expectAll(attentionRef(q, k, v, dims, { scale: 1, keyMask: [1, 0, 1, 1, 1] }), [1, 1, 2.5, 13 / 3, 29 / 4]);
  });

  it('a query with every key padded gives o = 0, no NaN', () => {
    const dims: AttentionDims = { B: 2, T: 3, NH: 1, KVH: 1, HD: 1 };
    const o = attentionRef(Float64Array.from([1, 2, 3, 1, 2, 3]), Float64Array.from([1, 1, 1, 1, 1, 1]), Float64Array.from([1, 2, 3, 4, 5, 6]), dims, { scale: 1, keyMask: [0, 1, 1, 0, 0, 0] });
    // Sequence 0: query 0 sees only key 0, which is padded; query 1 sees key 1 alone.
    // sequence 1 is fully padded. Query 2 of sequence 0 sees keys 1, 2 with equal scores.
    expect(Array.from(o)).toEqual([0, 2, 2.5, 0, 0, 0]);
  });

  it('softcap is applied before the softmax: two keys, p1/p0 = exp(cap·tanh(s1/cap) − cap·tanh(s0/cap))', () => {
    // scores s0 = ρ·q·k0 = 0, s1 = ρ·q·k1 = 100; with cap 50: s1' = 50·tanh(2) = 48.2013790...
    const dims: AttentionDims = { B: 1, T: 2, NH: 1, KVH: 1, HD: 1 };
    const o = attentionRef(Float64Array.from([0, 10]), Float64Array.from([0, 10]), Float64Array.from([0, 1]), dims, { scale: 1, softcap: 50 });
    const s1 = 50 * Math.tanh(2);
    expect(s1).toBeCloseTo(48.20137900379085, 12); // 50 * math.tanh(2)
    expect(o[1]).toBeCloseTo(1 / (1 + Math.exp(-s1)), 15);
  });
});
