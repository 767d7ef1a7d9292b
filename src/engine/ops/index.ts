// The op registry: one plain object, no side-effect registration (STYLE.md §1). Every op takes
// tensors, dispatches its WGSL kernel, and records its backward on the engine's tape.
// Low-level helpers that are not autograd ops (gemm, tuneMatmul, buildCsr, …) are imported from
// their own files.

import { add, mul, scale, sub } from './elementwise.ts';
import { attention } from './attention.ts';
import { attentionDecode } from './attention_decode.ts';
import { toF32 } from './convert.ts';
import { dropout } from './dropout.ts';
import { embedding } from './embedding.ts';
import { geglu, geluTanh } from './gelu_tanh.ts';
import { logprobs } from './logprobs.ts';
import { matmul } from './matmul.ts';
import { prefLoss } from './pref_loss.ts';
import { broadcastTo, mean, sum, sumTo } from './reduce.ts';
import { rmsnorm } from './rmsnorm.ts';
import { rope } from './rope.ts';
import { seqStats } from './seq_stats.ts';
import { softcap } from './softcap.ts';

export const ops = {
  add,
  sub,
  mul,
  scale,
  sum,
  mean,
  sumTo,
  broadcastTo,
  matmul,
  embedding,
  rmsnorm,
  rope,
  attention,
  attentionDecode,
  geluTanh,
  geglu,
  softcap,
  logprobs,
  seqStats,
  prefLoss,
  toF32,
  dropout,
} as const;

export type OpName = keyof typeof ops;
