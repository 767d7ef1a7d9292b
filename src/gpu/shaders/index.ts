// The single place that imports every WGSL file (as text, Vite's `?raw`; in Node the loader in
// scripts/wgsl-loader.mjs does the same) and hands it out by name. common.wgsl is prepended to
// every module explicitly, as webgpu-samples' cornell does.
//
// One file per concept, named for what it computes; each holds both directions of its op
// (e.g. rmsnorm.wgsl: rmsnorm_forward, rmsnorm_backward). tests check every file here has an op.
// Files named *_common.wgsl hold declarations shared by a family (matmul_common.wgsl: Params,
// bindings, element loads) and are prepended to its modules below. The B operand's loads
// (matmul_b_<type>_common.wgsl) are chosen per dispatch: shaderSource's `variant`.

import common from './common.wgsl?raw';
import attention from './attention.wgsl?raw';
import attention_decode from './attention_decode.wgsl?raw';
import convert from './convert.wgsl?raw';
import dropout from './dropout.wgsl?raw';
import elementwise from './elementwise.wgsl?raw';
import embedding from './embedding.wgsl?raw';
import fma_probe from './fma_probe.wgsl?raw';
import gelu_tanh from './gelu_tanh.wgsl?raw';
import grad_norm from './grad_norm.wgsl?raw';
import logprobs from './logprobs.wgsl?raw';
import matmul_common from './matmul_common.wgsl?raw';
import matmul_b_f32_common from './matmul_b_f32_common.wgsl?raw';
import matmul_b_bf16_common from './matmul_b_bf16_common.wgsl?raw';
import matmul_b_f16_common from './matmul_b_f16_common.wgsl?raw';
import matmul_b_f16_unpack_common from './matmul_b_f16_unpack_common.wgsl?raw';
import matmul_gemv from './matmul_gemv.wgsl?raw';
import matmul_gemv_sg from './matmul_gemv_sg.wgsl?raw';
import matmul_naive from './matmul_naive.wgsl?raw';
import matmul_reg from './matmul_reg.wgsl?raw';
import matmul_rowvec from './matmul_rowvec.wgsl?raw';
import matmul_tiled from './matmul_tiled.wgsl?raw';
import optim from './optim.wgsl?raw';
import pref_loss from './pref_loss.wgsl?raw';
import reduce from './reduce.wgsl?raw';
import rmsnorm from './rmsnorm.wgsl?raw';
import rope from './rope.wgsl?raw';
import seq_stats from './seq_stats.wgsl?raw';
import softcap from './softcap.wgsl?raw';
import util from './util.wgsl?raw';

export const shaders = {
  attention,
  attention_decode,
  convert,
  dropout,
  elementwise,
  embedding,
  fma_probe,
  gelu_tanh,
  grad_norm,
  logprobs,
  matmul_gemv,
  matmul_gemv_sg,
  matmul_naive,
  matmul_reg,
  matmul_rowvec,
  matmul_tiled,
  optim,
  pref_loss,
  reduce,
  rmsnorm,
  rope,
  seq_stats,
  softcap,
  util,
} as const;

export type ShaderName = keyof typeof shaders;

/** Shared pieces (files named *_common.wgsl, no entry points) prepended to some modules, after common.wgsl. */
const includes: Partial<Record<ShaderName, string[]>> = {
  matmul_naive: [matmul_common],
  matmul_reg: [matmul_common],
  matmul_rowvec: [matmul_common],
  matmul_tiled: [matmul_common],
  matmul_gemv: [matmul_common],
  matmul_gemv_sg: [matmul_common],
};

/**
 * Storage type of a module's B operand (binding 1: matmul's B, logprobs' E, embedding's table),
 * a compile-time variant: f16 reads through `shader-f16`, f16_unpack through core unpack2x16float.
 */
export type ShaderVariant = 'f32' | 'bf16' | 'f16' | 'f16_unpack';
const bOperand: Record<ShaderVariant, string> = { f32: matmul_b_f32_common, bf16: matmul_b_bf16_common, f16: matmul_b_f16_common, f16_unpack: matmul_b_f16_unpack_common };
/** Modules that read a B operand through b_at / b_vec4 (the include chosen by the variant comes first). */
const takesB: ReadonlySet<ShaderName> = new Set(['matmul_naive', 'matmul_reg', 'matmul_rowvec', 'matmul_tiled', 'matmul_gemv', 'matmul_gemv_sg', 'logprobs', 'embedding']);

/**
 * Full module source: common.wgsl, the shared pieces, then the named file. `variant` picks the B
 * operand's loads of the modules that have one (default f32). `enable …;` directives (e.g.
 * `enable subgroups;` in matmul_gemv_sg.wgsl, `enable f16;`) must open a module, so they are moved to the top.
 */
export function shaderSource(name: ShaderName, variant?: ShaderVariant): string {
  if (variant && !takesB.has(name)) throw new Error(`shader '${name}' has no B operand variants (asked for '${variant}')`);
  const parts = [...(takesB.has(name) ? [bOperand[variant ?? 'f32']] : []), ...(includes[name] ?? []), shaders[name]];
  const isDirective = (l: string): boolean => /^\s*enable\s+[\w, ]+;/.test(l);
  const directives = parts.flatMap((text) => text.split('\n').filter(isDirective));
  const strip = (text: string): string => text.split('\n').filter((l) => !isDirective(l)).join('\n');
  const shared = parts.slice(0, -1).map((text) => `${strip(text)}\n`).join('');
  return `${directives.join('\n')}${directives.length ? '\n' : ''}${common}\n${shared}// ---- ${name}.wgsl ----\n${strip(shaders[name])}`;
}
