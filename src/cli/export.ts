// `prefstudio export` and the files a LoRA run ends with.
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio export --model DIR --out DIR [--adapter DIR] [--dtype bf16|f16|f32] [--max_shard_size 5GB]
//   Writes a Hugging Face checkpoint folder: the input's tensor names and order, each tensor in its
//   input dtype (or --dtype; BF16/F16 rounded to nearest even), sharded with
//   model.safetensors.index.json above --max_shard_size, config.json (dtype rewritten when it
//   changes), generation_config.json and tokenizer files copied. With --adapter (a PEFT LoRA folder:
//   adapter_config.json + adapter_model.safetensors), every weight it targets is W + scale·B·A
//   (computed in float64, rounded once to f32, then to the output dtype). One tensor is in memory at
//   a time; the folder appears whole or not at all (temp folder + rename).
//
//   writePeftRun(out, model, adapter, io)   what `train --use_peft` writes at the end: OUT/adapter/
//   (PEFT's adapter folder) and OUT/final/ (the base with the adapter merged).
//   openAdapterFolder(dir, model, io)       a PEFT folder read and checked against the model (before
//   any weights load): logps / generate / train --adapter.

import { join, resolve } from 'node:path';
import { checkpointInfo, checkpointTensors, encodeCheckpointStream, type ExportDtype, type TensorReader } from '../engine/model/export.ts';
import { writeCheckpointDir } from '../engine/model/export_node.ts';
import type { LoraAdapter } from '../engine/model/lora.ts';
import { encodePeftAdapter, openPeftAdapter, readAdapterF32, type HostLoraAdapter, type OpenedPeftAdapter } from '../engine/model/peft.ts';
import { sourceFromDirectory } from '../engine/store/kv_node.ts';
import { UsageError, type CliIO, type Opts } from './args.ts';
import { openModelFolder, type OpenedModel } from './model.ts';

/** `prefstudio export`. */
export async function exportCommand(opts: Opts, io: CliIO): Promise<void> {
  const model = String(opts.model);
  const out = String(opts.out);
  const adapterDir = opts.adapter === undefined ? null : String(opts.adapter);
  for (const [flag, dir] of [['--model', model], ['--adapter', adapterDir]] as const) {
    if (dir !== null && resolve(dir) === resolve(out)) throw new UsageError(`--out ${out} is the ${flag} folder: export reads from it while writing, so it must be another folder`);
  }
  const maxShardSize = opts.max_shard_size === undefined ? undefined : parseSize(String(opts.max_shard_size));
  const dtype = opts.dtype === undefined ? undefined : (String(opts.dtype) as ExportDtype);
  const opened = await openModelFolder(model, io);
  const adapter = adapterDir === null ? null : (await openAdapterFolder(adapterDir, opened, io)).adapter;
  await writeMerged(opened, adapter, out, io, { dtype, maxShardSize });
}

/** Writes the model folder `m` with `adapter` merged (or as it is) to `dir`, with progress on stderr. */
async function writeMerged(m: OpenedModel, adapter: HostLoraAdapter | null, dir: string, io: CliIO, opts: { dtype?: ExportDtype; maxShardSize?: number } = {}): Promise<void> {
  const info = await checkpointInfo(m.ckpt);
  const read = withProgress(checkpointTensors(m.ckpt, adapter), info.tensors.length, io, adapter ? 'merging' : 'exporting');
  const files = encodeCheckpointStream(info, read, opts);
  await writeCheckpointDir(dir, files);
  io.log(`export: wrote ${dir} (${files.map((f) => f.path).join(', ')})${adapter ? `, LoRA merged into ${adapter.layers.reduce((n, l) => n + Object.keys(l).length, 0)} weights` : ''}`);
}

/** A TensorReader that logs "merging: 40% (12/30 tensors)" at most every 250 ms. */
function withProgress(read: TensorReader, total: number, io: CliIO, label: string): TensorReader {
  let done = 0;
  let last = 0;
  return async function* (name) {
    yield* read(name);
    done++;
    if (done === total || performance.now() - last > 250) {
      last = performance.now();
      io.log(`${label}: ${((100 * done) / total).toFixed(0)}% (${done}/${total} tensors)`);
    }
  };
}

/**
 * huggingface_hub's max_shard_size: bytes as an integer, or a number with a unit — KB, MB, GB, TB
 * (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); as there, a lowercase final b means bits.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(text);
  const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
  // huggingface_hub reads a unit ending in a lowercase 'b' (5Gb) as bits
  const bits = m?.[2] !== undefined && m[2].length > 1 && m[2].endsWith('b');
  const bytes = m ? Math.floor((Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]) / (bits ? 8 : 1)) : NaN;
  if (!(bytes >= 1)) throw new UsageError(`--max_shard_size '${text}' is not a size: give bytes or a number with a unit, e.g. 5GB, 500MB, 2GiB`);
  return bytes;
}

/** A PEFT adapter folder, read and checked against the opened model; warnings go to stderr. */
export async function openAdapterFolder(dir: string, m: OpenedModel, io: CliIO): Promise<OpenedPeftAdapter> {
  const opened = await openPeftAdapter({ ...(await sourceFromDirectory(dir)), name: dir }, m.ckpt.cfg);
  for (const w of opened.warnings) io.log(`warning: ${w}`);
  const c = opened.adapter.config;
  io.log(`adapter: ${dir} (LoRA r ${c.r}, alpha ${c.alpha}${c.useRslora ? ', rsLoRA' : ''}, ${c.targets.join(', ')})`);
  return opened;
}

/**
 * The end of a LoRA run: OUT/adapter/ (adapter_model.safetensors + adapter_config.json, naming the
 * base model folder as base_model_name_or_path) and, unless `final` is false, OUT/final/ (the base
 * checkpoint with the adapter merged, the input's names and dtypes). The base weights are read from
 * the model folder, which LoRA training never changes.
 */
export async function writePeftRun(outDir: string, m: OpenedModel, adapter: LoraAdapter, io: CliIO, opts: { final?: boolean } = {}): Promise<void> {
  const host = await readAdapterF32(adapter);
  const adapterDir = join(outDir, 'adapter');
  const files = encodePeftAdapter(host, { baseModel: m.dir });
  await writeCheckpointDir(adapterDir, files);
  io.log(`adapter: wrote ${adapterDir} (${files.map((f) => f.path).join(', ')})`);
  if (opts.final !== false) await writeMerged(m, host, join(outDir, 'final'), io);
}
