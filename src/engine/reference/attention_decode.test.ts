import { describe, expect, it } from 'vitest';
import { attentionRef } from './attention.ts';
import { attentionDecodeRef, type AttentionDecodeDims } from './attention_decode.ts';

const seq = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

describe('attentionDecodeRef', () => {
  it('matches PyTorch eager attention on a cache: GQA 4:2, softcap, window 3, left padding, rows past p0+Tq ignored', () => {
    // Generated with (python3, torch 1.13, float64; HF eager formula, positions = cache rows):
    //   B,Tq,S_max,NH,KVH,HD=2,2,7,4,2,4; p0=3; S=p0+Tq
    //   qi_=torch.arange(B*Tq*NH*HD,dtype=torch.float64); ki_=torch.arange(B*S_max*KVH*HD,dtype=torch.float64)
    //   q=torch.sin(0.37*qi_+0.1).reshape(B,Tq,NH,HD)
    //   K=(1.5*torch.cos(0.23*ki_)).reshape(B,S_max,KVH,HD); V=torch.sin(0.11*ki_+0.5).reshape(B,S_max,KVH,HD)
    //   K[:,S:]=1e3; V[:,S:]=1e3                      # rows past S must never be read
    //   scale,cap,W=3.0,2.0,3
    //   mask=torch.ones(B,S_max,dtype=torch.float64); mask[1,:2]=0; mask[1,3]=0
    //   G=NH//KVH; qh=q.transpose(1,2)
    //   kh=K[:,:S].transpose(1,2).repeat_interleave(G,dim=1); vh=V[:,:S].transpose(1,2).repeat_interleave(G,dim=1)
    //   s=cap*torch.tanh((qh@kh.transpose(-1,-2))*scale/cap)          # max |s| before the cap: 15.97
    //   qpos=(p0+torch.arange(Tq))[:,None]; kj=torch.arange(S)[None,:]
    //   vis=((kj<=qpos)&(kj>qpos-W))[None,None]&(mask[:,None,None,:S]>0)
    //   o=(torch.softmax(s.masked_fill(~vis,float('-inf')),-1)@vh).transpose(1,2).contiguous().reshape(-1)
    const dims: AttentionDecodeDims = { B: 2, Tq: 2, S_max: 7, NH: 4, KVH: 2, HD: 4 };
    const p0 = 3;
    const S = p0 + dims.Tq;
    const row = dims.KVH * dims.HD;
    const q = seq(64, (i) => Math.sin(0.37 * i + 0.1));
    const k = seq(112, (i) => (Math.floor(i / row) % dims.S_max >= S ? 1e3 : 1.5 * Math.cos(0.23 * i)));
    const v = seq(112, (i) => (Math.floor(i / row) % dims.S_max >= S ? 1e3 : Math.sin(0.11 * i + 0.5)));
    const keyMask = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1];
    const o = attentionDecodeRef(q, k, v, dims, { p0, scale: 3, softcap: 2, window: 3, keyMask });
    const want: [number, number][] = [
      [0, 0.03293270233436748], [1, -0.07400335343469286], [5, -0.07436651365496919], [17, -0.11716055655543575],
      [30, -0.9688444310118085], [33, 0.7800701722220543], [40, 0.5352282710113162], [50, 0.5811035535185709],
      [63, -0.976750736594994],
    ];
    for (const [i, x] of want) expect(o[i]).toBeCloseTo(x, 12);
    expect(o.reduce((a, x) => a + x, 0)).toBeCloseTo(4.824424079778393, 11);
    expect(o.reduce((a, x) => a + x * x, 0)).toBeCloseTo(25.749657087916294, 11);
  });

  it('p0 = 0, S_max = Tq: equals the training attention reference (prefill)', () => {
    const B = 2, T = 6, NH = 3, KVH = 1, HD = 5;
    const q = seq(B * T * NH * HD, (i) => Math.cos(0.7 * i));
    const k = seq(B * T * KVH * HD, (i) => Math.sin(0.3 * i + 1));
    const v = seq(B * T * KVH * HD, (i) => Math.cos(0.19 * i - 2));
    const keyMask = [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1];
    const opts = { scale: 0.8, softcap: 1.5, window: 2, keyMask };
    const want = attentionRef(q, k, v, { B, T, NH, KVH, HD }, opts);
    const got = attentionDecodeRef(q, k, v, { B, Tq: T, S_max: T, NH, KVH, HD }, { p0: 0, ...opts });
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('decoding rows p0 … p0+Tq−1 of a cache gives the last Tq rows of full-sequence attention', () => {
    const B = 1, T = 9, NH = 2, KVH = 2, HD = 3, p0 = 6, Tq = 3;
    const q = seq(B * T * NH * HD, (i) => Math.sin(1.3 * i));
    const k = seq(B * T * KVH * HD, (i) => Math.cos(0.4 * i));
    const v = seq(B * T * KVH * HD, (i) => Math.sin(0.9 * i + 0.2));
    const full = attentionRef(q, k, v, { B, T, NH, KVH, HD }, { scale: 2, softcap: 3, window: 4 });
    const qNew = q.slice(p0 * NH * HD); // the last Tq query rows
    const got = attentionDecodeRef(qNew, k, v, { B, Tq, S_max: T, NH, KVH, HD }, { p0, scale: 2, softcap: 3, window: 4 });
    const want = full.slice(p0 * NH * HD);
    got.forEach((x, i) => expect(x).toBeCloseTo(want[i], 14));
  });

  it('q = 0: o is the mean of the visible values (window by cache row, padding); nothing visible gives 0', () => {
    const dims: AttentionDecodeDims = { B: 1, Tq: 1, S_max: 6, NH: 1, KVH: 1, HD: 1 };
    const v = Float64Array.from([1, 2, 4, 8, 16, 999]);
    const k = Float64Array.from([3, -1, 2, 5, 0.5, 999]);
    const q = new Float64Array(1);
    const o = (p0: number, window: number, keyMask: number[] | null = null) => attentionDecodeRef(q, k, v, dims, { p0, scale: 1, window, keyMask })[0];
    expect(o(4, 0)).toBeCloseTo(31 / 5, 14); // rows 0..4
    expect(o(4, 2)).toBeCloseTo(12, 14); // rows 3, 4
    expect(o(2, 0, [0, 1, 1, 1, 1, 1])).toBeCloseTo(3, 14); // rows 1, 2 (row 0 padded)
    expect(o(1, 0, [0, 0, 1, 1, 1, 1])).toBe(0); // rows 0, 1 both padded
  });
});
