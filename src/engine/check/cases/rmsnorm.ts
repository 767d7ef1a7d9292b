// rmsnorm: Gemma-2 RMSNorm y = x·rsqrt(mean(x²) + eps)·(1 + w), forward and both gradients.
// Shapes: C not a multiple of the row workgroup (33, 300), C = 1, 3-D input, a wide row on the
// 256-invocation path (C = 4099), and 40 rows so dw goes through both stages (3 chunks of 16).
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';
import { rmsnorm } from '../../ops/rmsnorm.ts';
import { rmsnormRef } from '../../reference/rmsnorm.ts';

const rng = new Rng(11);
// Tolerances: forward is Σx² over ≤ 4099 f32 terms (relative error ~√C·2⁻²⁴ ≪ 1e-4) then a few
// roundings; gradients are compared with f64 central differences (h = 1e-5, truncation ~1e-10),
// so the slack is for f32 rounding in the row and column sums.
const fwd = { atol: 1e-5, rtol: 1e-4 };
const bwd = { atol: 1e-4, rtol: 1e-3 };

function normCase(shape: number[], xScale = 1, eps = 1e-6): GpuCase {
  const C = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    name: `rmsnorm: x [${shape.join(', ')}]${xScale !== 1 ? ` ×${xScale}` : ''}${eps !== 1e-6 ? ` eps=${eps}` : ''}`,
    run: (e) =>
      checkOp(e, {
        name: `rmsnorm [${shape.join(',')}]`,
        inputs: [
          { data: rng.normals(n, xScale), shape },
          { data: rng.array(C, -1, 1), shape: [C] }, // w: (1 + w) in [0, 2]
        ],
        gpu: ([x, w]) => rmsnorm(x, w, eps),
        cpu: ([x, w]) => [rmsnormRef(x, w, eps)],
        fwd,
        bwd,
      }),
  };
}

export const cases: GpuCase[] = [
  normCase([7, 33]),
  normCase([1, 1]),
  normCase([2, 3, 300]),
  normCase([40, 33]), // dw: 3 chunks of ≤ 16 rows, then the reduce stage
  normCase([1, 4099]), // C ≥ 4096: 256-invocation workgroups
  normCase([5, 17], 300), // large activations: rstd small, y still O(1)
  normCase([3, 9], 1, 0.5), // eps comparable to mean(x²)
  {
    name: 'rmsnorm: an all-zero row gives y = 0 and finite gradients',
    run: async (e) => {
      const C = 33;
      const x = e.tensor(new Float32Array(2 * C).fill(0).fill(1, C), [2, C], { requiresGrad: true });
      const w = e.tensor(new Float32Array(C).fill(0.5), [C], { requiresGrad: true });
      const y = rmsnorm(x, w);
      const want = rmsnormRef(Float64Array.from(await x.read()), Float64Array.from(await w.read()));
      expectClose(await y.read(), want, fwd, 'zero row forward');
      const dy = e.full([2, C], 1);
      e.backward(y, { seeds: [dy] });
      // Row 0 (x = 0): dx = rstd·g = 1000·1.5 (rstd = eps^−½). Row 1 (x = 1): x̂ = 1 and g = 1.5 are
      // constant, so dx = rstd·(g − x̂·mean(g·x̂)) = 0.
      const dx = await x.grad!.readF32();
      expectClose(dx.subarray(0, C), new Float64Array(C).fill(1500), { atol: 0.05, rtol: 1e-4 }, 'zero row dx');
      expectClose(dx.subarray(C), new Float64Array(C), { atol: 1e-5, rtol: 0 }, 'constant row dx');
      // dw_j = Σ_rows dy·x·rstd = 0 + 1·1·1 = 1.
      expectClose(await w.grad!.read(), new Float64Array(C).fill(1), { atol: 1e-5, rtol: 1e-5 }, 'zero row dw');
      [x, w, y, dy].forEach((t) => t.dispose());
    },
  },
];
