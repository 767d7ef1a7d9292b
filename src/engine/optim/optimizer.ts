// What AdamW and RMSProp share: parameter groups, per-parameter state created lazily on the
// first step, the clip factor handed to their kernels, zeroGrad and dispose.
//
// An optimizer is not an autograd op: its kernels update parameters in place and never touch
// the tape. A step only encodes GPU work (one dispatch per parameter that has a gradient) and
// never reads anything back, so a training step stays one submit with no await.
//
// Non-finite steps: the kernels take a u32[1] skip flag (by default the GradClip's nonFinite) and
// change nothing when it is set, on the GPU. The host cannot see the flag without a readback, so
// it counts the step as taken; once the trainer has read the flag (once per step, before the next
// step()), rollbackStep() undoes the count, and the next update uses the bias corrections of a run
// in which the bad step never happened (PyTorch's behaviour when the step is not called).
//
// Checkpoints: exportState() reads every parameter's state to the host (PyTorch's state names:
// exp_avg, exp_avg_sq, step; square_avg, …) and importState() puts it back, so a resumed run's next
// step equals the uninterrupted run's bit for bit (train/checkpoint_state.ts).

import { EngineError, ShapeError, fmtShape } from '../errors.ts';
import type { Engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import type { GradClip } from './clip.ts';

/** A set of parameters sharing hyper-parameters (PyTorch's param_groups), e.g. weightDecay 0 for norms. */
export interface ParamGroup {
  params: Tensor[];
  /** Overrides the optimizer's weightDecay for these parameters. */
  weightDecay?: number;
}

/** One parameter's optimizer state on the host (checkpoints): tensors by PyTorch's state names, and counters. */
export interface ParamStateHost {
  /** exp_avg, exp_avg_sq (AdamW); square_avg, grad_avg, momentum_buffer (RMSProp): f32, the parameter's size. */
  tensors: Record<string, Float32Array>;
  /** step (AdamW); none for RMSProp. */
  counters: Record<string, number>;
}

/** An optimizer's whole state on the host: what exportState() gives and importState() takes. */
export interface OptimizerStateHost {
  /** 'AdamW' or 'RMSProp'. */
  optimizer: string;
  /** The hyper-parameters the state belongs to (betas, eps, …; not lr or weight decay). */
  hyper: Record<string, number | boolean>;
  /** The state of each parameter that has taken a step (parameters without one start fresh). */
  states: Map<Tensor, ParamStateHost>;
}

/** A group after defaults are applied. */
export interface ResolvedGroup {
  params: Tensor[];
  weightDecay: number;
}

export interface StepOptions {
  /** Learning rate for this step (e.g. from schedule.ts); defaults to the optimizer's `lr`. */
  lr?: number;
  /** Clip factor from clipGradNorm (or any f32[1] tensor): gradients are multiplied by it in the kernel. */
  clip?: GradClip | Tensor;
  /**
   * u32[1] on the GPU: nonzero → the kernels leave every parameter and state untouched. Default:
   * the GradClip's `nonFinite` when `clip` is a GradClip, else never skip. Pass the trainer's own
   * combined flag (e.g. non-finite loss or gradient) to skip on either.
   */
  skipIf?: Tensor;
}

export abstract class Optimizer<S> {
  /** Base learning rate, used when step() is not given one. */
  lr: number;
  readonly groups: ResolvedGroup[];
  protected readonly engine: Engine;
  /** Per-parameter state (moments, step count), created on a parameter's first step. */
  protected readonly states = new Map<Tensor, S>();
  private one: Tensor | null = null;
  private zeroFlag: Tensor | null = null;
  /** Parameters the last step() encoded an update for (rollbackStep undoes their counts). */
  private lastStepped: Tensor[] = [];

  constructor(
    protected readonly name: string,
    params: Tensor[] | ParamGroup[],
    lr: number,
    defaultWeightDecay: number,
  ) {
    checkHyper(name, 'lr', lr);
    this.lr = lr;
    const raw: ParamGroup[] = params.length > 0 && isGroup(params[0]) ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
    this.groups = raw.map((g, gi) => {
      if (!g || !Array.isArray(g.params)) throw new ShapeError(name, `param group ${gi} has no params array`, 'pass Tensor[] or [{ params: Tensor[], weightDecay? }, ...]');
      const weightDecay = g.weightDecay ?? defaultWeightDecay;
      checkHyper(name, `weightDecay of group ${gi}`, weightDecay);
      return { params: [...g.params], weightDecay };
    });
    const all = this.params;
    if (all.length === 0) throw new ShapeError(name, 'got an empty parameter list', 'pass the trainable tensors (requiresGrad: true)');
    const seen = new Set<Tensor>();
    for (const p of all) {
      if (p.dtype !== 'f32') throw new ShapeError(name, `parameters must be f32, got ${p.describe()} (${p.label})`, 'train f32 copies (or LoRA adapters) of 16-bit weights');
      if (seen.has(p)) throw new ShapeError(name, `parameter ${p.label} ${p.describe()} appears more than once (in one group or in two groups)`);
      if (p.engine !== all[0].engine) throw new ShapeError(name, `parameter ${p.label} lives on a different Engine than ${all[0].label}`);
      seen.add(p);
    }
    this.engine = all[0].engine;
  }

  /** Every parameter of every group, in order (e.g. for clipGradNorm). */
  get params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /**
   * One update of every parameter that has a gradient (parameters whose `.grad` is null are
   * skipped and their step count does not advance, as in PyTorch). `step(lr)` is short for
   * `step({ lr })`.
   */
  step(opts: number | StepOptions = {}): void {
    const o: StepOptions = typeof opts === 'number' ? { lr: opts } : opts;
    const lr = o.lr ?? this.lr;
    checkHyper(this.name, 'lr', lr);
    const clip = this.clipTensor(o.clip);
    const skip = this.skipTensor(o);
    this.lastStepped = [];
    for (const group of this.groups) {
      for (const p of group.params) {
        const g = p.grad;
        if (!g) continue;
        if (g.dtype !== 'f32' || g.size !== p.size) {
          throw new ShapeError(`${this.name}.step`, `gradient ${g.describe()} of parameter ${p.label} does not match the parameter ${p.describe()}`);
        }
        if (p.size === 0) continue;
        this.update(p, g, group, lr, clip, skip);
        this.lastStepped.push(p);
      }
    }
  }

  /**
   * The GPU skipped the last step() (its skip flag was set, as read back by the trainer): the
   * per-parameter step counts it advanced go back, so the next step matches a run without it.
   * Call it before the next step(). Parameters and state need nothing: the kernels left them.
   */
  rollbackStep(): void {
    for (const p of this.lastStepped) this.uncount(p);
    this.lastStepped = [];
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Frees the optimizer state (not the parameters). The optimizer is unusable afterwards. */
  dispose(): void {
    for (const s of this.states.values()) this.disposeState(s);
    this.states.clear();
    this.one?.dispose();
    this.one = null;
    this.zeroFlag?.dispose();
    this.zeroFlag = null;
  }

  /**
   * Host copies of every parameter's state (readbacks of at most 64 MiB), for a checkpoint. Call it between
   * steps (after the trainer has read the step's skip flag).
   */
  async exportState(): Promise<OptimizerStateHost> {
    const entries = [...this.states].map(([p, s]) => [p, this.stateSlots(s)] as const);
    const tensors = entries.flatMap(([, slots]) => Object.values(slots.tensors));
    const host = await readF32Batched(this.engine, tensors);
    let k = 0;
    const states = new Map<Tensor, ParamStateHost>();
    for (const [p, slots] of entries) {
      const out: Record<string, Float32Array> = {};
      for (const name of Object.keys(slots.tensors)) out[name] = host[k++];
      states.set(p, { tensors: out, counters: { ...slots.counters } });
    }
    return { optimizer: this.name, hyper: this.hyper(), states };
  }

  /**
   * Replaces the state with `saved` (from exportState of an optimizer with the same settings over
   * parameters of the same shapes): the next step() continues that run bit for bit. Throws naming
   * the optimizer, the hyper-parameter or the parameter that does not match, before changing anything.
   */
  importState(saved: OptimizerStateHost): void {
    const where = `${this.name}.importState`;
    if (saved.optimizer !== this.name) throw new EngineError(where, `the saved state is ${saved.optimizer}'s, not ${this.name}'s`, 'resume with the optimizer the run was started with (--optim)');
    const mine = this.hyper();
    for (const k of new Set([...Object.keys(mine), ...Object.keys(saved.hyper)])) {
      if (mine[k] !== saved.hyper[k]) throw new EngineError(where, `hyper-parameter ${k} is ${String(saved.hyper[k])} in the saved state, ${String(mine[k])} here`, 'resume with the settings the run was started with');
    }
    const known = new Set(this.params);
    for (const [p, s] of saved.states) {
      if (!known.has(p)) throw new EngineError(where, `the saved state names a tensor (${p.label}) that is not one of this optimizer's parameters`);
      const want = this.slotNames();
      const got = Object.keys(s.tensors);
      if (want.join() !== got.join()) throw new EngineError(where, `parameter ${p.label}: saved state tensors [${got.join(', ')}], this configuration keeps [${want.join(', ')}]`);
      for (const [name, a] of Object.entries(s.tensors)) {
        if (a.length !== p.size) throw new EngineError(where, `parameter ${p.label} ${p.describe()}: saved ${name} has ${a.length} values, the parameter ${p.size}`);
      }
    }
    for (const s of this.states.values()) this.disposeState(s);
    this.states.clear();
    this.lastStepped = [];
    for (const [p, host] of saved.states) {
      const s = this.newState(p);
      const slots = this.stateSlots(s);
      for (const [name, t] of Object.entries(slots.tensors)) t.write(host.tensors[name]);
      this.setCounters(s, host.counters);
      this.states.set(p, s);
    }
  }

  /** Encodes the update of one parameter with its gradient (non-empty, shapes checked). */
  protected abstract update(p: Tensor, g: Tensor, group: ResolvedGroup, lr: number, clip: Tensor, skip: Tensor): void;
  protected abstract disposeState(s: S): void;
  /** A fresh state for `p` (zero tensors, counters 0), as its first step creates it. */
  protected abstract newState(p: Tensor): S;
  /** The names of the state tensors this configuration keeps per parameter, in stateSlots order. */
  protected abstract slotNames(): string[];
  /** The state's tensors by PyTorch's names and its counters (exportState / importState). */
  protected abstract stateSlots(s: S): { tensors: Record<string, Tensor>; counters: Record<string, number> };
  protected abstract setCounters(s: S, counters: Record<string, number>): void;
  /** The hyper-parameters a saved state must match. */
  protected abstract hyper(): Record<string, number | boolean>;
  /** Undoes the host-side step count of `p` (rollbackStep); nothing for optimizers without one. */
  protected uncount(_p: Tensor): void {}

  /** The f32[1] tensor the kernel multiplies gradients by: the given clip factor, or 1. */
  private clipTensor(clip: GradClip | Tensor | undefined): Tensor {
    if (!clip) {
      this.one ??= this.engine.keep(this.engine.full([1], 1, `${this.name}.clip_one`));
      return this.one;
    }
    const t = 'scale' in clip ? clip.scale : clip;
    if (t.dtype !== 'f32' || t.size !== 1) {
      throw new ShapeError(`${this.name}.step`, `clip must be a GradClip or an f32 tensor of 1 element, got ${t.describe()} ${fmtShape(t.shape)}`, 'pass the result of clipGradNorm(opt.params, maxNorm)');
    }
    if (t.engine !== this.engine) throw new ShapeError(`${this.name}.step`, 'the clip tensor lives on a different Engine than the parameters');
    return t;
  }

  /** The u32[1] skip flag the kernels read: skipIf, the GradClip's nonFinite, or a constant 0. */
  private skipTensor(o: StepOptions): Tensor {
    const t = o.skipIf ?? (o.clip && 'nonFinite' in o.clip ? o.clip.nonFinite : null);
    if (!t) {
      this.zeroFlag ??= this.engine.keep(this.engine.tensor([0], [1], { dtype: 'u32', label: `${this.name}.skip_never` }));
      return this.zeroFlag;
    }
    if (t.dtype !== 'u32' || t.size !== 1) {
      throw new ShapeError(`${this.name}.step`, `skipIf must be a u32 tensor of 1 element, got ${t.describe()}`, 'pass clip.nonFinite from clipGradNorm, or a u32[1] flag computed on the GPU');
    }
    if (t.engine !== this.engine) throw new ShapeError(`${this.name}.step`, 'the skip flag lives on a different Engine than the parameters');
    return t;
  }
}

/** Readbacks of at most this many bytes each (a staging buffer must stay under maxBufferSize). */
const READ_BATCH_BYTES = 64 << 20;

/**
 * Host copies of f32 tensors, in order, read READ_BATCH_BYTES at a time (one readMany per batch), so
 * that a checkpoint of many or big tensors never needs one huge staging buffer.
 */
export async function readF32Batched(e: Engine, tensors: readonly Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < tensors.length; ) {
    let j = i;
    let bytes = 0;
    while (j < tensors.length && (j === i || bytes + tensors[j].byteLength <= READ_BATCH_BYTES)) bytes += tensors[j++].byteLength;
    for (const a of await e.readMany(tensors.slice(i, j))) out.push(a instanceof Float32Array ? a : Float32Array.from(a));
    i = j;
  }
  return out;
}

function isGroup(x: Tensor | ParamGroup): x is ParamGroup {
  return typeof x === 'object' && x !== null && 'params' in x && !('engine' in x);
}

/** Non-negative finite, as torch.optim checks its hyper-parameters (named in the message). */
export function checkHyper(where: string, what: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) throw new EngineError(where, `invalid ${what}: ${v} (must be a finite number >= 0)`);
}
