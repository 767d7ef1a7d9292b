// The buffer pool on a device: a buffer released mid-batch is reused within the same batch for
// tensors that later commands write (dispatch outputs), the results stay exact, and an upload never
// lands in a buffer that an encoded, unsubmitted command still reads — through Engine.write (small:
// staged copy inside the batch; large: a flush first) and through emptyForHost + queue.writeBuffer
// (the loader's path). A negative control shows the hazard is real: a buffer handed on within the
// batch and filled by queue.writeBuffer corrupts the earlier reader's result.
import type { Engine } from '../../../src/engine/engine.ts';
import { add, scale } from '../../../src/engine/ops/elementwise.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { expectClose, type GpuCase } from '../harness.ts';

const exact = { atol: 0, rtol: 0 };
const filled = (n: number, v: number): Float32Array<ArrayBuffer> => new Float32Array(n).fill(v);

/** x = ones(n) submitted, then y = 2·x encoded (reads x) and x disposed: x's buffer is dirty. */
async function readerOfFreed(e: Engine, n: number): Promise<{ y: Tensor; freed: GPUBuffer }> {
  const x = e.tensor(filled(n, 1), [n], { label: 'pool.x' });
  await e.sync();
  const y = scale(x, 2);
  const freed = x.buffer;
  x.dispose();
  return { y, freed };
}

export const cases: GpuCase[] = [
  {
    name: 'pool: a chain of dispatches with frees between them reuses buffers within one batch, results exact',
    run: async (e) => {
      const n = 5000;
      const data = Float32Array.from({ length: n }, (_, i) => i % 97);
      let x = e.tensor(data, [n], { label: 'pool.chain.0' });
      const one = e.full([n], 1, 'pool.one');
      await e.sync();
      const before = { ...e.pool.getStats(), submits: e.stats.submits };
      const steps = 40;
      for (let k = 1; k <= steps; k++) {
        const y = add(x, one); // reads x; its output may take the buffer freed one step earlier
        x.dispose();
        x = y;
      }
      const after = { ...e.pool.getStats(), submits: e.stats.submits };
      if (after.submits !== before.submits) throw new Error(`the chain was submitted ${after.submits - before.submits} times while encoding: it must stay one batch for this test`);
      if (after.created - before.created > 1) throw new Error(`${after.created - before.created} buffers created for a chain of ${steps} same-size ops: freed buffers were not reused within the batch`);
      if (after.reusedInBatch - before.reusedInBatch < steps - 1) throw new Error(`only ${after.reusedInBatch - before.reusedInBatch} of ${steps} outputs reused a buffer freed in the same batch`);
      if (after.peak > before.peak + 2 * 20480) throw new Error(`pool peak grew by ${after.peak - before.peak} B for a chain holding two 20 kB tensors at a time`);
      expectClose(await x.read(), Float64Array.from(data, (v) => v + steps), exact, 'chain result');
      x.dispose();
      one.dispose();
    },
  },
  {
    name: 'pool: uploads through write() never land in a buffer an encoded command still reads (small: staged; large: flushed)',
    run: async (e) => {
      for (const n of [1000, 300_000]) {
        // 4 kB goes through the in-batch staging copy, 1.2 MB through a flush + queue.writeBuffer
        const { y, freed } = await readerOfFreed(e, n);
        const z = e.tensor(filled(n, 7), [n], { label: 'pool.upload' }); // may take x's buffer
        const w = scale(z, 3);
        const [gy, gw] = await e.readMany([y, w]);
        expectClose(gy, filled(n, 2), exact, `n=${n}: the reader of the freed buffer (buffer ${z.buffer === freed ? 'reused' : 'not reused'} by the upload)`);
        expectClose(gw, filled(n, 21), exact, `n=${n}: the uploaded tensor`);
        [y, z, w].forEach((t) => t.dispose());
      }
    },
  },
  {
    name: 'pool: emptyForHost + queue.writeBuffer is safe; the same through empty() shows the hazard it avoids',
    run: async (e) => {
      const n = 2000;
      {
        const { y, freed } = await readerOfFreed(e, n);
        const h = e.emptyForHost([n], 'f32', 'pool.host');
        if (h.buffer === freed) throw new Error('emptyForHost handed out a buffer an unsubmitted command still reads');
        e.device.queue.writeBuffer(h.buffer, 0, filled(n, 7));
        expectClose(await y.read(), filled(n, 2), exact, 'reader of the freed buffer after a host write into an emptyForHost tensor');
        expectClose(await h.read(), filled(n, 7), exact, 'the host-written tensor');
        [y, h].forEach((t) => t.dispose());
      }
      {
        // Negative control: empty() may reuse the dirty buffer (allowed for GPU writers); writing it
        // with queue.writeBuffer lands before the unsubmitted scale() and corrupts its result.
        const { y, freed } = await readerOfFreed(e, n);
        const g = e.empty([n], 'f32', 'pool.naive');
        if (g.buffer !== freed) throw new Error('control: empty() did not reuse the buffer freed in this batch (the pool no longer reuses within a batch?)');
        e.device.queue.writeBuffer(g.buffer, 0, filled(n, 7));
        const got = await y.read();
        if (got[0] !== 14) throw new Error(`control: expected the naive host write to corrupt the earlier reader (14), got ${got[0]}: the hazard this test guards against did not show`);
        [y, g].forEach((t) => t.dispose());
      }
    },
  },
];
