// elementwise: add, mul, sub, scale with NumPy broadcasting — same-shape (vec4) and broadcast
// paths, scalar-shaped and rank-0 operands, zero-size and one-element tensors, rank 6 — forward
// vs the float64 reference, backward (sum over broadcast dims) vs finite differences.
import { add, mul, scale, sub } from '../../ops/elementwise.ts';
import { ShapeError } from '../../errors.ts';
import { addRef, mulRef, scaleRef, subRef } from '../../reference/elementwise.ts';
import { checkOp, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(21);
// One f32 rounding per output element (inputs are already f32): relative error ≤ 6e-8.
const fwd = { atol: 1e-6, rtol: 1e-6 };
// Gradients of broadcast operands are f32 sums of ≤ 60 terms; finite differences of a (bi)linear
// function in f64 are exact up to ~1e-10.
const bwd = { atol: 1e-5, rtol: 1e-5 };

type Shape = number[];
const PAIRS: [string, Shape, Shape][] = [
  ['[3,1,5]∘[4,1]→[3,4,5]', [3, 1, 5], [4, 1]],
  ['[4,1]∘[3,1,5] (swapped)', [4, 1], [3, 1, 5]],
  ['same shape [257] (vec4 tail)', [257], [257]],
  ['same shape [2,3,5]', [2, 3, 5], [2, 3, 5]],
  ['[1]-shaped scalar operand', [7, 33], [1]],
  ['rank-0 operand', [], [2, 9]],
  ['row broadcast [7,33]∘[33]', [7, 33], [33]],
  ['leading 1s [1,1,6]∘[6]', [1, 1, 6], [6]],
  ['rank 6, alternating', [2, 1, 3, 1, 2, 1], [1, 2, 1, 3, 1, 2]],
  ['zero-size dim [0,5]∘[1,5]', [0, 5], [1, 5]],
  ['one element [1]∘[1]', [1], [1]],
];

const numel = (s: Shape) => s.reduce((p, d) => p * d, 1);
const input = (shape: Shape) => ({ data: rng.array(numel(shape), -2, 2), shape });

const binaryCases: GpuCase[] = PAIRS.flatMap(([what, sa, sb]) =>
  (
    [
      ['add', add, addRef],
      ['mul', mul, mulRef],
    ] as const
  ).map(([name, op, ref]) => ({
    name: `elementwise: ${name} ${what}`,
    run: (e) => checkOp(e, { name: `${name} ${what}`, inputs: [input(sa), input(sb)], gpu: ([a, b]) => op(a, b), cpu: ([a, b]) => [ref(a, sa, b, sb)], fwd, bwd }),
  }) satisfies GpuCase),
);

export const cases: GpuCase[] = [
  ...binaryCases,
  {
    name: 'elementwise: sub [3,1,5]−[4,1] (composition of scale and add)',
    run: (e) => checkOp(e, { name: 'sub', inputs: [input([3, 1, 5]), input([4, 1])], gpu: ([a, b]) => sub(a, b), cpu: ([a, b]) => [subRef(a, [3, 1, 5], b, [4, 1])], fwd, bwd }),
  },
  ...[1, 6, 1001].map((n) => ({
    name: `elementwise: scale n=${n} by -0.75`,
    run: (e) => checkOp(e, { name: `scale n=${n}`, inputs: [input([n])], gpu: ([x]) => scale(x, -0.75), cpu: ([x]) => [scaleRef(x, -0.75)], fwd, bwd }),
  }) satisfies GpuCase),
  {
    // The same tensor as both operands: the tape must add the two gradient contributions.
    name: 'elementwise: mul(x, x) and add(x, x) accumulate both paths',
    run: async (e) => {
      await checkOp(e, { name: 'mul(x,x)', inputs: [input([5, 3])], gpu: ([x]) => mul(x, x), cpu: ([x]) => [x.map((v) => v * v)], fwd, bwd });
      await checkOp(e, { name: 'add(x,x)', inputs: [input([5, 3])], gpu: ([x]) => add(x, x), cpu: ([x]) => [x.map((v) => v + v)], fwd, bwd });
    },
  },
  {
    // Backward temporaries (dy·b before its sum, sub's −b) must all return to the pool.
    name: 'elementwise: forward + backward of mul/sub with broadcasting leaks no buffers',
    run: async (e) => {
      // NOTE: Engine.flush() returns early when nothing is encoded, so buffers disposed after the
      // last submit stay counted as in use; one tiny dispatch + flush settles the count.
      const settle = () => {
        e.zeros([1]).dispose();
        e.flush();
        return e.pool.getStats().inUse;
      };
      const before = settle();
      await checkOp(e, { name: 'mul leak', inputs: [input([3, 1, 5]), input([4, 1])], gpu: ([a, b]) => mul(a, b), cpu: ([a, b]) => [mulRef(a, [3, 1, 5], b, [4, 1])], fwd, bwd });
      await checkOp(e, { name: 'sub leak', inputs: [input([3, 1, 5]), input([4, 1])], gpu: ([a, b]) => sub(a, b), cpu: ([a, b]) => [subRef(a, [3, 1, 5], b, [4, 1])], fwd, bwd });
      const after = settle();
      if (after !== before) throw new Error(`pool bytes in use went from ${before} to ${after}`);
    },
  },
  {
    name: 'elementwise: shape errors name both shapes',
    run: async (e) => {
      const a = e.zeros([3]);
      const b = e.zeros([4]);
      const c7 = e.zeros([2, 1, 2, 1, 2, 1, 2]);
      const d7 = e.zeros([1, 2, 1, 2, 1, 2, 1]);
      const expectShapeError = (f: () => unknown, pattern: RegExp) => {
        try {
          f();
        } catch (err) {
          if (err instanceof ShapeError && pattern.test(err.message)) return;
          throw new Error(`expected a ShapeError matching ${pattern}, got ${String(err)}`);
        }
        throw new Error(`expected a ShapeError matching ${pattern}, nothing was thrown`);
      };
      expectShapeError(() => add(a, b), /\[3\] and \[4\] do not broadcast/);
      expectShapeError(() => sub(a, b), /\[3\] and \[4\] do not broadcast/);
      expectShapeError(() => mul(c7, d7), /7 dims after merging/);
      [a, b, c7, d7].forEach((t) => t.dispose());
    },
  },
];
