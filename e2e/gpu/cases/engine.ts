// Engine-level behaviour: fill/copy/accumulate, the buffer pool, and autograd's rules.
import type { GpuCase } from '../harness.ts';
import { expectClose } from '../harness.ts';

export const cases: GpuCase[] = [
  {
    name: 'engine: fill, copy, accumulate (n not a multiple of the workgroup)',
    run: async (e) => {
      const n = 1000;
      const a = e.full([n], 1.5);
      const b = e.tensor(Float32Array.from({ length: n }, (_, i) => i), [n]);
      const c = e.copy(b);
      e.accumulate(c, a);
      expectClose(await c.read(), Float64Array.from({ length: n }, (_, i) => i + 1.5), { atol: 0, rtol: 0 }, 'copy+accumulate');
      [a, b, c].forEach((t) => t.dispose());
    },
  },
];
