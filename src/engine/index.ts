// Public surface of the engine for code outside src/engine (the worker, the CLI, benchmarks).
// Browser code creates an Engine from navigator.gpu; Node code uses ./node.ts.
export { Engine, f32, i32 } from './engine.ts';
export type { Dispatch, EngineOptions } from './engine.ts';
export { Tensor } from './tensor.ts';
export { isRowSplit, splitRowsFromHost, tableParts } from './table.ts';
export type { RowPart, RowSplitTensor, VocabTable } from './table.ts';
export type { DType } from './tensor.ts';
export * from './errors.ts';
export { ops } from './ops/index.ts';
export { gemm, tuneMatmul, MATMUL_VARIANTS } from './ops/matmul.ts';
export { AdamW } from './optim/adamw.ts';
export { RMSProp } from './optim/rmsprop.ts';
export { clipGradNorm } from './optim/clip.ts';
export * from './optim/schedule.ts';
