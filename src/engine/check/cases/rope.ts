// rope: half-split rotary embedding, forward and backward (the inverse rotation).
// HD = 8 and 16 (and Gemma's 256), NH = 3, T = 1 and 9, positions starting at 5, large positions
// (4000…, 4095) where the f32 angle matters, 4-D x with positions [T] and [B, T].
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';
import { rope } from '../../ops/rope.ts';
import { ropeRef } from '../../reference/rope.ts';

const rng = new Rng(23);
// Tolerances. The GPU computes φ = p·inv_freq in f32 (as HF does), the reference in f64, and the
// kernel's own sin/cos are accurate to ~1e-7 on every adapter. For x in [−1, 1] an angle error δ
// moves an output by at most √2·δ. δ has three f32 parts: ½ulp(φ); φ·2⁻²³ from rounding θ^e and its
// reciprocal; and ≤ p·0.37·2⁻²⁴ from rounding the exponent e = 2i/HD (amplified by ln θ).
// - positions ≤ 13 (φ < 16): δ ≤ 4.8e-7 + 1.6e-6 + 3e-7 ≈ 2.4e-6 → 5e-6 (measured ≤ 2.5e-7).
// - positions ≤ 4095: δ ≤ 1.2e-4 + 4.9e-4 + 9e-5 ≈ 7e-4 → √2·δ ≈ 1e-3 → 2e-3 (measured 2.6e-4).
//   This is the rounding HF's f32 angles have too, not a kernel error.
// rope is linear in x, so the central differences of the reference are exact to ~1e-10.
const small = { fwd: { atol: 5e-6, rtol: 0 }, bwd: { atol: 5e-6, rtol: 0 } };
const large = { fwd: { atol: 2e-3, rtol: 0 }, bwd: { atol: 2e-3, rtol: 0 } };

function ropeCase(xShape: number[], positions: number[], posShape: number[], tol: typeof small, theta = 10000): GpuCase {
  const [NH, HD] = xShape.slice(-2);
  const n = xShape.reduce((a, b) => a * b, 1);
  const label = `x [${xShape.join(', ')}] positions [${posShape.join(', ')}] ${positions[0]}…${positions[positions.length - 1]}`;
  return {
    name: `rope: ${label}${theta !== 10000 ? ` theta=${theta}` : ''}`,
    run: (e) =>
      checkOp(e, {
        name: `rope ${label}`,
        inputs: [
          { data: rng.array(n, -1, 1), shape: xShape },
          { data: positions, shape: posShape, dtype: 'i32' },
        ],
        gpu: ([x, pos]) => rope(x, pos, theta),
        cpu: ([x, pos]) => [ropeRef(x, pos, NH, HD, theta)],
        fwd: tol.fwd,
        bwd: tol.bwd,
      }),
  };
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

export const cases: GpuCase[] = [
  ropeCase([1, 3, 8], [5], [1], small),
  ropeCase([9, 3, 8], range(5, 9), [9], small),
  ropeCase([1, 3, 16], [13], [1], small),
  ropeCase([9, 3, 16], range(5, 9), [9], small),
  ropeCase([9, 3, 16], range(0, 9), [9], small, 1e6), // another base
  ropeCase([9, 3, 8], range(4000, 9), [9], large),
  ropeCase([9, 3, 16], range(4000, 9), [9], large),
  ropeCase([2, 1, 256], [0, 4095], [2], large), // Gemma's head dim
  ropeCase([2, 9, 3, 16], range(5, 9), [9], small), // 4-D, positions shared by the batch
  ropeCase([2, 9, 3, 8], [...range(5, 9), ...range(4000, 9)], [2, 9], large), // 4-D, per-row positions
];

// HF's own f32 computation at positions 4000 and 4095 (transformers Gemma2RotaryEmbedding +
// apply_rotary_pos_emb, PyTorch 1.13 CPU). Our φ is bit-identical to HF's (same f32 inv_freq, one
// f32 product) and our sin/cos are ~1e-7 accurate, so we agree with HF far more closely than with
// the f64 reference:
//   x = (torch.arange(32, dtype=torch.float32).reshape(2, 1, 16) * 0.37).sin()
//   inv = 1.0 / (10000 ** (torch.arange(0, 16, 2, dtype=torch.int64).float() / 16))
//   freqs = (inv[None, :, None].float() @ torch.tensor([[4000, 4095]]).float()[:, None, :]).transpose(1, 2)
//   emb = torch.cat((freqs, freqs), -1); y = x * emb.cos()[0][:, None] + rotate_half(x) * emb.sin()[0][:, None]
const hfX = [
  0.0, 0.361615449, 0.674287915, 0.895698667, 0.995880842, 0.96127522, 0.796565473, 0.524044216, 0.180596232, -0.187294587, -0.529836178, -0.800666869, -0.963130951, -0.995239794, -0.892647564, -0.6692397,
  -0.355253488, 0.00681460183, 0.367960364, 0.679304779, 0.898708165, 0.996475637, 0.959374726, 0.792427003, 0.518228114, 0.173889488, -0.193984255, -0.535603166, -0.80473125, -0.964942038, -0.994552553, -0.889555097,
];
const hfY = [
  0.123438209, 0.0235772878, -0.805048823, 1.19563138, 0.0534507036, 1.04023993, -1.19622779, 0.795983434, -0.131825671, 0.406557649, -0.295443624, 0.117511928, 1.38439262, -0.912388682, -0.0193693638, 0.298185408,
  0.540537238, -0.0949745327, 0.3414675, -0.864842772, -0.981124759, 1.28496432, -1.36634076, 1.07175064, 0.320288837, 0.145821229, 0.237538755, -0.0193090439, 0.701899529, -0.522440195, -0.206512988, 0.520191848,
];
cases.push({
  name: 'rope: matches HF f32 rope at positions 4000, 4095 to 5e-7',
  run: async (e) => {
    const x = e.tensor(hfX, [2, 1, 16]);
    const pos = e.tensor([4000, 4095], [2], { dtype: 'i32' });
    const y = rope(x, pos);
    // Our sin/cos vs PyTorch's (~1e-7) plus the rotation's f32 roundings; measured 1.2e-7 (1 ulp)
    // on lavapipe and SwiftShader. (hfY is printed to 9 digits: ±5e-10.)
    expectClose(await y.read(), hfY, { atol: 5e-7, rtol: 0 }, 'rope vs HF f32');
    [x, pos, y].forEach((t) => t.dispose());
  },
});
