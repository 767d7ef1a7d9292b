// Reverse-mode autograd: a tape of (op, inputs, outputs, saved tensors, backward closure) and a
// reverse walk, in micrograd's and candle's manner.
//
// Rules:
// - An op records itself only when grad mode is on and some input requires a gradient; otherwise
//   it frees the tensors it kept for backward at once (burn's Tracked/UnTracked branch), so a
//   reference-model pass under noGrad() holds no tape memory.
// - backward() accumulates into leaf tensors' existing `.grad` (gradient accumulation).
// - An op without a backward throws NoBackwardError when a gradient reaches it — never a silent 0.
// - Gradients are checked against their input's shape; a mismatch names the op and both shapes.
// - Every tensor a node reads in its backward (inputs, outputs, `keep`, `owned`) is held, so a
//   dispose() — by the caller or by engine.tidy() — waits until the node has run or is released.
// - An exception during backward releases the whole graph and every gradient not yet stored in a
//   leaf, then propagates (leaves may have received part of their gradients: zero them to retry).

import { EngineError, NoBackwardError, ShapeError, fmtShape } from './errors.ts';
import type { Engine } from './engine.ts';
import type { Tensor } from './tensor.ts';

/** Given the gradients of an op's outputs (null where none arrived), returns its inputs' gradients. */
export type BackwardFn = (dOutputs: (Tensor | null)[]) => (Tensor | null)[];

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  outputs: Tensor[];
  /** Temporaries created by the forward only for the backward (e.g. rmsnorm's rstd); freed after it. */
  owned: Tensor[];
  /** Caller-owned tensors the backward reads that are not inputs (e.g. a mask); held until it runs. */
  keep: Tensor[];
  backward: BackwardFn | null;
}

export interface RecordArgs {
  op: string;
  inputs: Tensor[];
  outputs: Tensor[];
  owned?: Tensor[];
  /** Non-differentiable tensors the backward reads besides inputs/outputs (held, not freed). */
  keep?: Tensor[];
  /** Indices of outputs that are detached (carry no gradient), e.g. logprobs' log Σp². */
  detached?: number[];
  /** Omit for an op that has no backward: a gradient reaching it throws NoBackwardError. */
  backward?: BackwardFn;
}

/** Per-engine grad mode. */
export class Tape {
  private noGradDepth = 0;

  get enabled(): boolean {
    return this.noGradDepth === 0;
  }

  /** Runs `fn` with recording off (reference-model passes, optimizer updates). */
  noGrad<T>(fn: () => T): T {
    // NOTE: synchronous only. Grad mode is a per-engine counter, so an async callback would turn
    // recording off for whatever else runs while it awaits (silently missing gradients).
    this.noGradDepth++;
    let r: T;
    try {
      r = fn();
    } finally {
      this.noGradDepth--;
    }
    if (r instanceof Promise) {
      throw new EngineError('noGrad', 'was given an async function', 'run only the synchronous GPU calls inside noGrad(() => …) and await outside it');
    }
    return r;
  }

  /**
   * Runs `fn` with recording on, even inside noGrad() or a backward (torch.enable_grad): the
   * backward of activation recomputation (recompute.ts) re-runs its forward this way.
   */
  enableGrad<T>(fn: () => T): T {
    const depth = this.noGradDepth;
    this.noGradDepth = 0;
    let r: T;
    try {
      r = fn();
    } finally {
      this.noGradDepth = depth;
    }
    if (r instanceof Promise) {
      throw new EngineError('enableGrad', 'was given an async function', 'run only the synchronous GPU calls inside enableGrad(() => …)');
    }
    return r;
  }

  /**
   * Records an op if grad mode is on and an input requires a gradient. Returns whether it did.
   * When it does not, `owned` temporaries are disposed immediately.
   */
  record(args: RecordArgs): boolean {
    const needed = this.enabled && args.inputs.some((t) => t.requiresGrad);
    if (!needed) {
      for (const t of args.owned ?? []) t.dispose();
      return false;
    }
    const detached = new Set(args.detached ?? []);
    const node: TapeNode = {
      op: args.op,
      inputs: args.inputs,
      outputs: args.outputs,
      owned: args.owned ?? [],
      keep: args.keep ?? [],
      backward: args.backward ?? null,
    };
    args.outputs.forEach((o, i) => {
      if (detached.has(i)) return;
      o.requiresGrad = true;
      o.node = node;
      o.recorded = true;
    });
    // Backward closures read their inputs, outputs and temporaries: keep them alive until the node
    // has run (a tidy() scope ending before the backward only requests their dispose).
    for (const t of [...node.inputs, ...node.outputs, ...node.keep, ...node.owned]) t.hold();
    return true;
  }
}

/**
 * Where an op's backward may write the gradient of input `t` itself instead of returning it: t's
 * `.grad` when t is a leaf that requires a gradient (created zeroed on first use, kept out of
 * tidy() scopes as backward() keeps the leaves' gradients), else null (return the gradient to the
 * tape as usual). The op then adds its contribution into the target and returns null for that
 * input, so ops sharing one parameter accumulate into ONE buffer: the tied embedding's gather
 * and LM head (embedding, logprobs) each hold no [V, C] gradient of their own. Same sums in the
 * same order as the tape's accumulate (target + contribution), so the values are unchanged.
 */
export function leafGradTarget(e: Engine, t: Tensor): Tensor | null {
  if (!t.requiresGrad || t.node || t.recorded) return null;
  if (!t.grad) t.grad = e.keep(e.zeros(t.shape, `${t.label}.grad`));
  return t.grad;
}

/** A tensor whose producing node already ran (and was freed) in an earlier backward. */
function freedGraph(t: Tensor): EngineError {
  return new EngineError(
    'backward',
    `tried to backpropagate through ${t.describe()} ('${t.label}') a second time, but its graph was freed by an earlier backward`,
    'sum the losses and call backward once, or pass retainGraph: true to the earlier backward',
  );
}

/** Frees what a node kept for its backward and detaches it from its outputs. */
function releaseNode(node: TapeNode): void {
  for (const t of node.owned) {
    t.dispose(); // deferred by its hold ...
    t.unhold(); // ... and done here
  }
  node.owned = [];
  for (const o of node.outputs) if (o.node === node) o.node = null;
  for (const t of [...node.inputs, ...node.outputs, ...node.keep]) t.unhold();
  node.inputs = [];
  node.outputs = [];
  node.keep = [];
}

/**
 * Drops a recorded graph without running backward (e.g. a forward run with grad mode on whose loss
 * is not needed): frees every tensor the nodes kept alive.
 */
export function releaseGraph(roots: Tensor | Tensor[]): void {
  const order = topoOrder(Array.isArray(roots) ? roots : [roots]);
  for (let n = order.length - 1; n >= 0; n--) releaseNode(order[n]);
}

/** Nodes reachable from `roots`, in topological order (producers before consumers). */
function topoOrder(roots: Tensor[]): TapeNode[] {
  const order: TapeNode[] = [];
  const seen = new Set<TapeNode>();
  // Iterative DFS: models have thousands of nodes, recursion depth would be a risk.
  const stack: [TapeNode, number][] = [];
  for (const r of roots) if (r.node) stack.push([r.node, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i === 0 && seen.has(node)) {
      stack.pop();
      continue;
    }
    seen.add(node);
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i].node;
      if (child && !seen.has(child)) stack.push([child, 0]);
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

export interface BackwardOptions {
  /** Gradients of the roots, one per root (default: 1 for a one-element root). Not consumed. */
  seeds?: Tensor[];
  /** Keep the graph (saved tensors) for another backward. */
  retainGraph?: boolean;
}

/**
 * Backpropagates from `roots` (usually one scalar loss), accumulating into `.grad` of every leaf
 * that requires a gradient. Runs with grad mode off, so backward ops are not themselves recorded.
 */
export function backward(engine: Engine, roots: Tensor | Tensor[], opts: BackwardOptions = {}): void {
  const rootList = Array.isArray(roots) ? roots : [roots];
  // Check every root before anything is allocated (a failed check leaves the graph as it was).
  rootList.forEach((root, i) => {
    if (!root.node) {
      if (root.recorded) throw freedGraph(root);
      throw new EngineError('backward', `the root tensor ${root.describe()} was not produced by a recorded op`, 'make sure some input has requiresGrad: true and that the forward did not run under noGrad()');
    }
    const seed = opts.seeds?.[i];
    if (!seed && root.size !== 1) throw new ShapeError('backward', `root ${root.describe()} is not a scalar; pass a seed gradient of the same shape`);
    if (seed && seed.size !== root.size) throw new ShapeError('backward', `seed ${fmtShape(seed.shape)} does not match root ${fmtShape(root.shape)}`);
  });
  const order = topoOrder(rootList);
  const grads = new Map<Tensor, Tensor>();
  try {
    rootList.forEach((root, i) => {
      const seed = opts.seeds?.[i];
      grads.set(root, seed ? engine.copy(seed) : engine.full(root.shape, 1));
    });
    walk(engine, order, grads, opts.retainGraph ?? false);
  } catch (e) {
    // Release the whole graph (nodes already run are released twice: a no-op), then rethrow.
    for (let n = order.length - 1; n >= 0; n--) releaseNode(order[n]);
    throw e;
  } finally {
    for (const g of grads.values()) g.dispose();
  }
}

/** The reverse walk: runs each node's backward, routes gradients to inputs, frees what ran. */
function walk(engine: Engine, order: TapeNode[], grads: Map<Tensor, Tensor>, retainGraph: boolean): void {
  engine.tape.noGrad(() => {
    for (let n = order.length - 1; n >= 0; n--) {
      const node = order[n];
      const dOut = node.outputs.map((o) => grads.get(o) ?? null);
      if (dOut.every((g) => g === null)) {
        if (!retainGraph) releaseNode(node); // nothing reaches it: free what it kept
        continue;
      }
      if (!node.backward) throw new NoBackwardError(node.op);
      const dIn = node.backward(dOut);
      const handedOut = new Set<Tensor>();
      const unclaimed = new Set<Tensor>();
      node.inputs.forEach((input, i) => {
        let g = dIn[i] ?? null;
        if (!g || !input.requiresGrad) {
          if (g && !dOut.includes(g)) unclaimed.add(g);
          return;
        }
        if (!input.node && input.recorded) throw freedGraph(input);
        if (g.size !== input.size) {
          throw new ShapeError(`${node.op}.backward`, `gradient ${fmtShape(g.shape)} for input ${i} does not match its shape ${fmtShape(input.shape)}`);
        }
        // A backward may pass a gradient straight through (add: dx = dy), or hand the same tensor
        // to two inputs; copy it then, so every stored gradient has exactly one owner.
        if (dOut.includes(g) || handedOut.has(g)) g = engine.copy(g);
        handedOut.add(g);
        if (input.node) {
          const prev = grads.get(input);
          if (prev) {
            engine.accumulate(prev, g);
            g.dispose();
          } else grads.set(input, g);
        } else if (input.grad) {
          engine.accumulate(input.grad, g);
          g.dispose();
        } else {
          input.grad = engine.keep(g); // a leaf's gradient outlives any tidy() scope
        }
      });
      // Gradients computed for inputs that need none, and handed to no other input.
      for (const g of unclaimed) if (!handedOut.has(g)) g.dispose();
      // This node's output gradients are consumed.
      for (const o of node.outputs) {
        grads.get(o)?.dispose();
        grads.delete(o);
      }
      if (!retainGraph) releaseNode(node);
    }
  });
}
