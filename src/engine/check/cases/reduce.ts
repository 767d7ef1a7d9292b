// reduce: sum/mean over one axis (first, middle, last, negative, keepdim, length 1, length 0, a
// long axis for the workgroup tree), sumTo and broadcastTo, each reduction kernel forced on
// awkward shapes — forward vs the float64 reference, backward vs finite differences.
import type { Engine } from '../../engine.ts';
import { ShapeError } from '../../errors.ts';
import { broadcastTo, mean, sum, sumTo, type ReduceKernelOptions } from '../../ops/reduce.ts';
import { broadcastToRef, meanRef, sumRef, sumToRef } from '../../reference/reduce.ts';
import { checkOp, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(31);
// f32 sums of ≤ 1000 values in [-1, 1]: the tree keeps errors ~1e-6, but a forced sequential loop
// over 1000 terms can drift ~1e-5 (running sums up to ~30 with 6e-8 rounding each step).
const fwd = { atol: 5e-5, rtol: 1e-5 };
// The backward is a broadcast (times 1/L for mean): exact up to one f32 rounding; the finite
// differences of a linear function are exact to ~1e-10.
const bwd = { atol: 1e-5, rtol: 1e-5 };

const numel = (s: number[]) => s.reduce((p, d) => p * d, 1);

function axisCase(op: 'sum' | 'mean', shape: number[], axis: number, opts: ReduceKernelOptions & { keepdim?: boolean } = {}): GpuCase {
  const what = `${op} ${JSON.stringify(shape)} axis=${axis}${opts.keepdim ? ' keepdim' : ''}${opts.kernel ? ` kernel=${opts.kernel}${opts.wg ?? ''}` : ''}`;
  const gpuOp = op === 'sum' ? sum : mean;
  const ref = op === 'sum' ? sumRef : meanRef;
  return {
    name: `reduce: ${what}`,
    run: async (e: Engine) => {
      await checkOp(e, {
        name: what,
        inputs: [{ data: rng.array(numel(shape)), shape }],
        gpu: ([x]) => {
          const y = gpuOp(x, axis, opts);
          const a = axis < 0 ? axis + shape.length : axis;
          const want = opts.keepdim ? shape.map((d, i) => (i === a ? 1 : d)) : shape.filter((_, i) => i !== a);
          if (JSON.stringify(y.shape) !== JSON.stringify(want)) throw new Error(`${what}: output shape [${y.shape}], expected [${want}]`);
          return y;
        },
        cpu: ([x]) => [ref(x, shape, axis)],
        fwd,
        bwd,
      });
    },
  };
}

function sumToCase(xShape: number[], shape: number[], opts: ReduceKernelOptions = {}): GpuCase {
  const what = `sumTo ${JSON.stringify(xShape)}→${JSON.stringify(shape)}${opts.kernel ? ` kernel=${opts.kernel}${opts.wg ?? ''}` : ''}`;
  return {
    name: `reduce: ${what}`,
    run: (e) => checkOp(e, { name: what, inputs: [{ data: rng.array(numel(xShape)), shape: xShape }], gpu: ([x]) => sumTo(x, shape, opts), cpu: ([x]) => [sumToRef(x, xShape, shape)], fwd, bwd }),
  };
}

function broadcastToCase(xShape: number[], shape: number[]): GpuCase {
  const what = `broadcastTo ${JSON.stringify(xShape)}→${JSON.stringify(shape)}`;
  return {
    name: `reduce: ${what}`,
    run: (e) => checkOp(e, { name: what, inputs: [{ data: rng.array(numel(xShape)), shape: xShape }], gpu: ([x]) => broadcastTo(x, shape), cpu: ([x]) => [broadcastToRef(x, xShape, shape)], fwd, bwd }),
  };
}

export const cases: GpuCase[] = [
  // [3,5,7] over the first, middle and last axis (and negative), both ops.
  ...[0, 1, 2, -1, -3].flatMap((axis) => [axisCase('sum', [3, 5, 7], axis), axisCase('mean', [3, 5, 7], axis)]),
  axisCase('sum', [3, 5, 7], 1, { keepdim: true }),
  axisCase('mean', [3, 5, 7], -1, { keepdim: true }),
  // Axis of length 1 (a copy), and a one-element tensor reduced to rank 0.
  axisCase('sum', [4, 1, 6], 1),
  axisCase('mean', [4, 1, 6], 1),
  axisCase('sum', [1], 0),
  // Long axes: innermost (group kernel, lanes read consecutive floats), outermost with 2 outputs
  // (group kernel, strided reads), and every kernel forced on the same shape.
  axisCase('sum', [2, 1000], 1),
  axisCase('mean', [1000, 2], 0),
  axisCase('sum', [1, 1000, 1], 1),
  axisCase('sum', [2, 1000], -1, { kernel: 'thread' }),
  axisCase('sum', [2, 1000], -1, { kernel: 'group', wg: 256 }),
  axisCase('sum', [2, 1000], -1, { kernel: 'group', wg: 64 }),
  axisCase('mean', [3, 5, 7], 1, { kernel: 'group', wg: 256 }), // 5 elements on 256 lanes
  // Bias-gradient shapes and multi-dim reductions (several reduced dims: the division path).
  sumToCase([3, 4, 5], [4, 1]),
  sumToCase([3, 4, 5], [3, 1, 5]),
  sumToCase([3, 4, 5], [1]),
  sumToCase([3, 4, 5], []),
  sumToCase([3, 4, 5], [3, 4, 5]),
  sumToCase([40, 33], [33]),
  sumToCase([3, 4, 5], [4, 1], { kernel: 'group', wg: 64 }),
  sumToCase([4, 5, 3, 7], [5, 1, 1], { kernel: 'group', wg: 256 }),
  sumToCase([4, 5, 3, 7], [5, 1, 1], { kernel: 'thread' }),
  sumToCase([2, 3, 2, 3, 2, 3], [3, 1, 3, 1, 3], { kernel: 'thread' }),
  sumToCase([2, 3, 2, 3, 2, 3], [3, 1, 3, 1, 3], { kernel: 'group', wg: 64 }),
  broadcastToCase([4, 1], [3, 4, 5]),
  broadcastToCase([1], [7]),
  broadcastToCase([2, 1, 3], [2, 5, 3]),
  // Zero-size: an empty summed axis gives zeros; an empty kept dim gives an empty output.
  axisCase('sum', [3, 0], 1),
  axisCase('sum', [0, 4], 1),
  sumToCase([0, 5], [5]),
  {
    name: 'reduce: mean over an empty axis is NaN (as torch.mean)',
    run: async (e) => {
      const x = e.tensor([], [2, 0]);
      const y = mean(x, 1);
      const got = await y.read();
      if (got.length !== 2 || !got.every((v) => Number.isNaN(v))) throw new Error(`mean of [2, 0] over axis 1: got [${Array.from(got)}], expected [NaN, NaN]`);
      [x, y].forEach((t) => t.dispose());
    },
  },
  {
    name: 'reduce: bad axis and target shapes throw ShapeError',
    run: async (e) => {
      const x = e.zeros([3, 4]);
      for (const [f, pattern] of [
        [() => sum(x, 2), /axis 2 is out of range for f32\[3, 4\]/],
        [() => mean(x, -3), /axis -3 is out of range/],
        [() => sumTo(x, [3]), /cannot sum \[3, 4\] to \[3\]/],
        [() => broadcastTo(x, [4, 4]), /cannot broadcast \[3, 4\] to \[4, 4\]/],
      ] as [() => unknown, RegExp][]) {
        let err: unknown = null;
        try {
          f();
        } catch (caught) {
          err = caught;
        }
        if (!(err instanceof ShapeError) || !pattern.test(err.message)) throw new Error(`expected a ShapeError matching ${pattern}, got ${String(err)}`);
      }
      x.dispose();
    },
  },
];
