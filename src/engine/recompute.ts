// Activation recomputation (gradient checkpointing: transformers' `gradient_checkpointing=True`,
// torch.utils.checkpoint): trade compute for memory by keeping only a segment's inputs.
//
//   y = recompute(e, fn, inputs)
//
// Forward: runs fn(...inputs) under noGrad, so none of fn's intermediates stay alive, and records
// ONE tape node (inputs and the trainable leaves fn read → y). Backward of that node: re-runs fn
// with recording on, on fresh leaves that share the inputs' buffers (requiresGrad as the inputs),
// backpropagates y's gradient through the re-run graph — the trainable leaves inside fn (weights,
// LoRA factors) accumulate into their .grad as they would without recomputation — and hands the
// fresh leaves' gradients on as the inputs' gradients.
//
// The re-run executes the same kernels on the same inputs, so activations and gradients are bitwise
// those of the plain run. fn must therefore be deterministic given its inputs: randomness (LoRA
// dropout) is seeded when the forward starts and captured by fn (model/linear.ts), never drawn anew.
// Tensors fn reads besides `inputs` must be leaves (parameters) or need no gradient: a recorded
// tensor that needs one is refused (its gradient would be lost), naming it. The ones that need no
// gradient (RoPE positions, the attention mask) are held until the backward, so the caller may
// dispose them after the forward as usual.
//
// What fn reads is found by watching the ops it runs: every op calls tape.record() (with recording
// off under noGrad too), so the forward sees each tensor they read and produce.

import type { Engine } from './engine.ts';
import { EngineError } from './errors.ts';
import type { RecordArgs } from './tape.ts';
import { Tensor } from './tensor.ts';

/** y = fn(...inputs) keeping only `inputs` (and fn's trainable leaves) for the backward. */
export function recompute(e: Engine, fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], label = 'recompute'): Tensor {
  const tape = e.tape;
  if (!tape.enabled) return fn(...inputs);
  const given = new Set(inputs);
  const made = new Set<Tensor>(); // outputs of fn's ops
  const leaves = new Set<Tensor>(); // trainable tensors fn reads (parameters)
  const external = new Set<Tensor>(); // other tensors fn reads (positions, masks): held for the re-run
  let outside: Tensor | null = null;
  const record = tape.record;
  tape.record = (args: RecordArgs): boolean => {
    for (const t of [...args.inputs, ...(args.keep ?? [])]) {
      if (given.has(t) || made.has(t)) continue;
      if (!t.requiresGrad) external.add(t);
      else if (t.recorded) outside ??= t;
      else leaves.add(t);
    }
    for (const t of args.outputs) made.add(t);
    return record.call(tape, args);
  };
  let y: Tensor;
  try {
    y = tape.noGrad(() => e.tidy(() => fn(...inputs))); // fn's intermediates are freed at once
  } finally {
    tape.record = record;
  }
  const captured = outside as Tensor | null;
  if (captured) {
    y.dispose();
    throw new EngineError(label, `the recomputed function reads ${captured.describe()} '${captured.label}', which needs a gradient but is not among its inputs`, 'pass every tensor that needs a gradient as an input of recompute()');
  }
  if (given.has(y)) return y;
  const params = [...leaves];
  tape.record({
    op: label,
    inputs: [...inputs, ...params],
    outputs: [y],
    keep: [...external],
    backward: ([dy]) => {
      if (!dy) return [...inputs, ...params].map(() => null);
      const dIn = e.tidy(() => {
        // Fresh leaves over the inputs' buffers: the re-run's graph ends at them.
        const fresh = inputs.map((x) => new Tensor(e, x.shape, x.dtype, x.sharedStorage, `${x.label}.recompute`, x.requiresGrad));
        const again = tape.enableGrad(() => fn(...fresh));
        if (again.node) e.backward(again, { seeds: [dy] }); // params accumulate into their .grad here
        else e.releaseGraph(again);
        return fresh.map((f) => {
          const g = f.grad;
          f.grad = null;
          return g;
        });
      });
      return [...dIn, ...params.map(() => null)];
    },
  });
  return y;
}
