// model/linear.ts, the linear seam: y = x·Wᵀ + scale·(dropout(x)·Aᵀ)·Bᵀ against a float64
// composition of the references (matmul, dropout), forward and the gradients of x, W, A and B by
// finite differences; with W frozen only x, A and B get gradients and W's stays null.
import { linear } from '../../model/linear.ts';
import { dropoutMaskRef } from '../../reference/dropout.ts';
import { matmulRef } from '../../reference/matmul.ts';
import { checkOp, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(21);
const fwd = { atol: 2e-5, rtol: 2e-5 };
const bwd = { atol: 2e-4, rtol: 2e-3 };

/** float64: x (rows, in), W (out, in), A (r, in), B (out, r); `mask` the dropout's keep mask of x. */
function linearRef(x: Float64Array, w: Float64Array, A: Float64Array, B: Float64Array, dims: { rows: number; inF: number; outF: number; r: number }, lora: { scale: number; p: number; mask: Uint8Array }): Float64Array {
  const { rows, inF, outF, r } = dims;
  const base = matmulRef(x, w, rows, outF, inF, false, true);
  const dropped = x.map((v, i) => (lora.mask[i] ? v / (1 - lora.p) : 0));
  const down = matmulRef(dropped, A, rows, r, inF, false, true);
  const up = matmulRef(down, B, rows, outF, r, false, true);
  return base.map((v, i) => v + lora.scale * up[i]);
}

const shapes = [
  { rows: 7, inF: 13, outF: 9, r: 3, scale: 2, p: 0, seed: 0 },
  { rows: 10, inF: 24, outF: 40, r: 4, scale: 0.5, p: 0.3, seed: 987654 },
  { rows: 1, inF: 5, outF: 6, r: 1, scale: 16 / Math.sqrt(1), p: 0.5, seed: 3 },
];

export const cases: GpuCase[] = [
  ...shapes.map(({ rows, inF, outF, r, scale, p, seed }) => ({
    name: `linear: LoRA rows=${rows} in=${inF} out=${outF} r=${r} scale=${scale} dropout=${p}`,
    run: (e) =>
      checkOp(e, {
        name: `linear r=${r} p=${p}`,
        inputs: [
          { data: rng.array(rows * inF), shape: [rows, inF] },
          { data: rng.array(outF * inF, -0.5, 0.5), shape: [outF, inF], grad: false }, // the frozen base
          { data: rng.array(r * inF, -0.5, 0.5), shape: [r, inF] },
          { data: rng.array(outF * r, -0.5, 0.5), shape: [outF, r] }, // nonzero B: A's gradient is B-weighted
        ],
        gpu: ([x, w, A, B]) => {
          const y = linear(x, w, { factors: { A, B }, scale, dropout: p, seed });
          if (w.grad) throw new Error('linear: the frozen base weight got a gradient');
          return y;
        },
        cpu: ([x, w, A, B]) => [linearRef(x, w, A, B, { rows, inF, outF, r }, { scale, p, mask: dropoutMaskRef(rows * inF, p, seed) })],
        fwd,
        bwd,
      }),
  }) satisfies GpuCase),
  {
    name: 'linear: without LoRA it is x·Wᵀ, and a trainable W gets its gradient',
    run: (e) =>
      checkOp(e, {
        name: 'linear base',
        inputs: [
          { data: rng.array(6 * 11), shape: [6, 11] },
          { data: rng.array(5 * 11), shape: [5, 11] },
        ],
        gpu: ([x, w]) => linear(x, w),
        cpu: ([x, w]) => [matmulRef(x, w, 6, 5, 11, false, true)],
        fwd,
        bwd,
      }),
  },
  {
    name: 'linear: factors that do not fit W are refused naming the shapes',
    run: async (e) => {
      const x = e.zeros([2, 4]);
      const w = e.zeros([3, 4]);
      const A = e.zeros([2, 5]);
      const B = e.zeros([3, 2]);
      let msg = '';
      try {
        linear(x, w, { factors: { A, B }, scale: 1, dropout: 0, seed: 0 });
      } catch (err) {
        msg = (err as Error).message;
      }
      if (!/linear: LoRA factors A \[2, 5\], B \[3, 2\] do not fit W \[3, 4\]/.test(msg)) throw new Error(`wrong or no error: '${msg}'`);
      [x, w, A, B].forEach((t) => t.dispose());
    },
  },
];
