// `prefstudio recipe`: the TRL recipe of a training run (src/engine/train/recipe.ts) written to a
// folder: recipe.yaml, README.md, data.jsonl (and train_cpo.py for SimPO), so the same training runs
// on a multi-GPU cluster with `trl dpo --config recipe.yaml --num_processes N`.
//
//   prefstudio recipe --data FILE --out DIR [--preset NAME] [--model_name_or_path ID]
//     [--num_processes N] [every loss / optimizer / schedule / sequence flag of `train`]
//     [--use_peft --lora_r R --lora_alpha A --lora_dropout P --lora_target_modules M,… --use_rslora]
//
// A preset gives its published recipe (the cluster trains a real model, not the demo's small one).
// Differences from PrefStudio's training (e.g. WPO's weight clamp) are printed as warnings on
// stderr and written into recipe.yaml and README.md. commands.ts imports this file for recipeFlags,
// so the engine modules are imported when the command runs.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRESETS } from '../engine/train/presets.ts';
import type { CliIO, FlagSpec, Opts } from './args.ts';

/** Flags of `train` the recipe has no use for: the local model, evaluation, logging, outputs. */
const NOT_FOR_RECIPE = new Set(['model', 'eval_data', 'logging_steps', 'save_final', 'cache_dir']);

/** The recipe's own flags (LoRA's --use_peft, --lora_r, … come with train's). */
const RECIPE_FLAGS: FlagSpec[] = [
  { name: 'model_name_or_path', type: 'string', metavar: 'ID', default: 'google/gemma-2-2b-it', help: 'the model the cluster trains: a Hub id or a path there' },
  { name: 'num_processes', type: 'int', metavar: 'N', default: 8, help: 'GPUs the recipe is written for; batch and accumulation are split so each step sees the run\'s pairs' },
];

/** The recipe command's flags: `train`'s settings (whatever it gains), `data`, `out` and `preset` re-described, plus RECIPE_FLAGS. */
export function recipeFlags(train: readonly FlagSpec[]): FlagSpec[] {
  const out: FlagSpec[] = [];
  for (const f of train) {
    if (NOT_FOR_RECIPE.has(f.name)) continue;
    if (f.name === 'data') out.push({ ...f, help: 'the preference set the run trained on (.jsonl, .json, .parquet; text or chat-message rows): written to DIR/data.jsonl' });
    else if (f.name === 'out') out.push({ ...f, help: 'output folder: recipe.yaml, README.md, data.jsonl (and train_cpo.py for SimPO)' });
    else if (f.name === 'preset') out.push({ ...f, help: `a published recipe as published (without the demo's small-model scaling): ${Object.keys(PRESETS).join(', ')}; explicit flags override it` });
    else out.push(f);
  }
  return [...out, ...RECIPE_FLAGS];
}

export async function recipeCommand(opts: Opts, io: CliIO): Promise<void> {
  const { datasetJsonl, trlRecipe } = await import('../engine/train/recipe.ts');
  const { loadDataset } = await import('../engine/data/dataset.ts');
  const { readFileBytes } = await import('./read_file.ts');
  const dataPath = String(opts.data);
  const ds = await loadDataset(dataPath, await readFileBytes(dataPath, 'check the --data path'));
  const data = datasetJsonl(ds);
  const recipe = trlRecipe({ settings: opts, model: String(opts.model_name_or_path), numProcesses: Number(opts.num_processes) });
  const out = String(opts.out);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'data.jsonl'), data.text);
  for (const [name, text] of Object.entries(recipe.files)) await writeFile(join(out, name), text);
  for (const w of recipe.warnings) io.log(`warning: ${w}`);
  io.log(`recipe: ${[...Object.keys(recipe.files), 'data.jsonl'].map((f) => join(out, f)).join(', ')} (${data.rows} pairs, ${data.form} form)`);
  io.stdout(`cd ${out} && ${recipe.command}\n`);
}
