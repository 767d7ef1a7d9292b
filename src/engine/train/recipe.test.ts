// The TRL recipe (recipe.ts) checked against TRL's own field lists: every key of every generated
// recipe.yaml must be a field of a config class the targeted TRL parser reads
// (e2e/fixtures/trl_fields.json, read from TRL 1.12's source), every value must have that field's
// type as PyYAML (TrlParser's YAML reader) would read it, and the numbers must be the run's — the
// expected values come from presets.ts's tables, not from the conversion code under test.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { DatasetError } from '../data/examples.ts';
import { EngineError } from '../errors.ts';
import { PRESETS } from './presets.ts';
import { datasetJsonl, trlRecipe, yamlFloat, type RecipeRun, type TrlRecipe } from './recipe.ts';

interface FieldClass {
  fields: Record<string, string>;
  removed?: Record<string, string>;
  values?: Record<string, string[]>;
}
const TRL = JSON.parse(readFileSync(join(__dirname, '../../../e2e/fixtures/trl_fields.json'), 'utf8')) as {
  trl_version: string;
  classes: Record<string, FieldClass>;
  parsers: Record<'dpo' | 'cpo', { classes: string[] }>;
};

// PyYAML's YAML 1.1 resolver: what TrlParser's yaml.safe_load reads as a float / an int.
const PYYAML_FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?)$/;
const PYYAML_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;

/** The alternatives of a Python annotation, split at its top-level `|`. */
function alternatives(annotation: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of annotation) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === '|' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** Whether a parsed YAML value fits one alternative of a Python annotation. */
function fits(alt: string, v: unknown, node: YamlNode | null): boolean {
  if (alt === 'None') return v === null;
  if (alt === 'bool') return typeof v === 'boolean';
  if (alt === 'int') return typeof v === 'number' && Number.isInteger(v) && isScalar(node) && PYYAML_INT.test(String(node.source));
  if (alt === 'float') return typeof v === 'number' && isScalar(node) && (PYYAML_FLOAT.test(String(node.source)) || PYYAML_INT.test(String(node.source)));
  if (alt === 'str' || /Strategy|SchedulerType|OptimizerNames/.test(alt)) return typeof v === 'string';
  if (alt === 'list[str]') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (alt === 'list[float]') return Array.isArray(v) && isSeq(node) && node.items.every((x) => fits('float', (x as { value?: unknown }).value, x as YamlNode));
  if (alt === 'list' || alt.startsWith('list[')) return Array.isArray(v);
  if (alt.startsWith('dict')) return typeof v === 'object' && v !== null && !Array.isArray(v);
  return false; // an annotation the recipe has no business writing
}

/** Every problem of a recipe.yaml for the `dpo` / `cpo` parser (empty = it is valid). */
function checkRecipeYaml(text: string, parser: 'dpo' | 'cpo'): string[] {
  const problems: string[] = [];
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true });
  for (const e of doc.errors) problems.push(`YAML: ${e.message}`);
  if (!isMap(doc.contents)) return [...problems, 'the document is not a mapping'];
  const classes = TRL.parsers[parser].classes.map((c) => ({ name: c, ...TRL.classes[c] }));
  for (const pair of doc.contents.items) {
    const key = String((pair.key as { value: unknown }).value);
    const owner = classes.find((c) => key in c.fields && !(c.removed && key in c.removed));
    if (!owner) {
      problems.push(`'${key}' is not a field of ${classes.map((c) => c.name).join(' / ')} in TRL ${TRL.trl_version}`);
      continue;
    }
    const node = pair.value as YamlNode;
    const value = node.toJSON();
    const annotation = owner.fields[key];
    if (key === 'datasets') {
      if (!isSeq(node) || node.items.length === 0) problems.push('datasets must be a non-empty list');
      else {
        for (const item of node.items) {
          if (!isMap(item)) {
            problems.push('each datasets item must be a mapping');
            continue;
          }
          for (const p of item.items) {
            const k = String((p.key as { value: unknown }).value);
            const t = TRL.classes.DatasetConfig.fields[k];
            if (t === undefined) problems.push(`datasets item key '${k}' is not a field of DatasetConfig`);
            else if (!alternatives(t).some((alt) => fits(alt, (p.value as YamlNode).toJSON(), p.value as YamlNode))) problems.push(`datasets item '${k}' does not fit ${t}`);
          }
          if (!item.has('path')) problems.push('datasets item needs path (DatasetConfig.path has no default)');
        }
      }
      continue;
    }
    if (!alternatives(annotation).some((alt) => fits(alt, value, node))) {
      problems.push(`'${key}': ${JSON.stringify(value)} (written ${isScalar(node) ? String(node.source) : 'as a collection'}) does not fit ${owner.name}.${key}: ${annotation}`);
    }
    const allowed = owner.values?.[key];
    if (allowed) for (const x of Array.isArray(value) ? value : [value]) if (!allowed.includes(x as string)) problems.push(`'${key}': '${String(x)}' is not one of TRL's ${allowed.join(', ')}`);
  }
  return problems;
}

/** The recipe's YAML as plain values, after checking it is valid. */
function parsed(r: TrlRecipe): Record<string, unknown> {
  expect(checkRecipeYaml(r.files['recipe.yaml'], r.trainer)).toEqual([]);
  const v = parseDocument(r.files['recipe.yaml'], { version: '1.1' }).toJS() as Record<string, unknown>;
  expect(v, 'TrlRecipe.config is what recipe.yaml says').toEqual(r.config);
  return v;
}

const recipe = (settings: RecipeRun['settings'], more: Partial<RecipeRun> = {}): TrlRecipe => trlRecipe({ settings, model: 'google/gemma-2-9b-it', ...more });

describe('the field list (e2e/fixtures/trl_fields.json)', () => {
  it('holds the fields the recipe relies on, and not the ones TRL 1.x removed', () => {
    const c = TRL.classes;
    for (const k of ['beta', 'loss_type', 'loss_weights', 'use_weighting', 'ld_alpha', 'max_length', 'precompute_ref_log_probs']) expect(c.DPOConfig.fields).toHaveProperty(k);
    for (const k of ['simpo_gamma', 'cpo_alpha', 'loss_type']) expect(c.CPOConfig.fields).toHaveProperty(k);
    for (const k of ['learning_rate', 'warmup_steps', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'optim', 'seed']) expect(c.TrainingArguments.fields).toHaveProperty(k);
    for (const k of ['use_peft', 'lora_r', 'lora_alpha', 'lora_target_modules', 'use_rslora']) expect(c.ModelConfig.fields).toHaveProperty(k);
    for (const k of ['rpo_alpha', 'max_prompt_length', 'reference_free']) expect(c.DPOConfig.fields).not.toHaveProperty(k);
    expect(c.TrainingArguments.fields).not.toHaveProperty('warmup_ratio');
  });
});

describe('checkRecipeYaml catches what TRL would refuse', () => {
  const good = recipe({ preset: 'dpo' }).files['recipe.yaml'];
  it('accepts a generated recipe', () => expect(checkRecipeYaml(good, 'dpo')).toEqual([]));
  it('a misspelled key', () => expect(checkRecipeYaml(good.replace('\nlearning_rate:', '\nlearnig_rate:'), 'dpo').join('\n')).toMatch(/'learnig_rate' is not a field/));
  it('a field TRL 1.x removed', () => {
    expect(checkRecipeYaml(`${good}rpo_alpha: 0.5\n`, 'dpo').join('\n')).toMatch(/'rpo_alpha' is not a field/);
    expect(checkRecipeYaml(`${good}warmup_ratio: 0.1\n`, 'dpo').join('\n')).toMatch(/'warmup_ratio' is not a field/);
    expect(checkRecipeYaml(`${good}trust_remote_code: true\n`, 'dpo')).toEqual([]); // DPOConfig's own in 1.12, not ModelConfig's
  });
  it('a DPOConfig field in a CPO recipe', () => expect(checkRecipeYaml(`${good}`, 'cpo').join('\n')).toMatch(/'precompute_ref_log_probs' is not a field/));
  it('a float PyYAML would read as a string, and an unknown loss type', () => {
    expect(checkRecipeYaml(good.replace(/\nlearning_rate: .*/, '\nlearning_rate: 5e-7'), 'dpo').join('\n')).toMatch(/'learning_rate'.*written 5e-7/);
    expect(checkRecipeYaml(good.replace('loss_type: ["sigmoid"]', 'loss_type: ["sigmod"]'), 'dpo').join('\n')).toMatch(/'sigmod' is not one of TRL's/);
    expect(checkRecipeYaml(good.replace(/\nseed: \d+/, '\nseed: 4.5'), 'dpo').join('\n')).toMatch(/'seed'/);
  });
});

describe('every preset', () => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    for (const small of [false, true]) {
      it(`${name}${small ? ' (small-model scaling)' : ''}: valid keys, the preset's numbers`, () => {
        const p = { ...preset.paper, ...(small ? preset.small : {}) } as Record<string, number | string | boolean | string[]>;
        const r = recipe({ preset: name }, small ? { parameters: 1e6 } : {});
        const y = parsed(r);
        expect(y.model_name_or_path).toBe('google/gemma-2-9b-it');
        expect(y.beta).toBe(p.beta);
        expect(y.learning_rate).toBe(p.learning_rate);
        expect(y.lr_scheduler_type).toBe(p.lr_scheduler_type);
        expect(y.warmup_steps, 'warmup_ratio as a fraction in warmup_steps').toBe(p.warmup_ratio);
        expect(y.num_train_epochs).toBe(p.num_train_epochs);
        expect(y.seed).toBe(p.seed);
        expect(y.optim).toBe(p.optim);
        expect(y.max_length).toBe(p.max_length);
        expect(y.max_grad_norm).toBe(1);
        const pairs = (y.per_device_train_batch_size as number) * (y.gradient_accumulation_steps as number) * 8;
        expect(pairs, 'pairs per optimizer step on 8 GPUs').toBe((p.per_device_train_batch_size as number) * (p.gradient_accumulation_steps as number));
        expect(y.per_device_train_batch_size as number).toBeLessThanOrEqual(p.per_device_train_batch_size as number);
        expect(y.use_peft).toBe(false);
        expect(r.files['README.md']).toContain(r.command);
        if (name === 'simpo') {
          expect(r.trainer).toBe('cpo');
          expect(r.command).toBe('accelerate launch --num_processes 8 train_cpo.py --config recipe.yaml');
          expect(r.files['train_cpo.py']).toContain('from trl.experimental.cpo import CPOConfig, CPOTrainer');
          expect(y.loss_type).toBe('simpo');
          expect(y.simpo_gamma).toBe(p.simpo_gamma);
          expect(y.cpo_alpha, 'pure SimPO: written, since CPOConfig defaults to 1.0').toBe(0);
        } else {
          expect(r.trainer).toBe('dpo');
          expect(r.command).toBe('trl dpo --config recipe.yaml --num_processes 8');
          expect(y.precompute_ref_log_probs).toBe(true);
          expect(y.loss_type).toEqual(name === 'sppo' ? ['sppo_hard'] : ['sigmoid']);
          expect(y.use_weighting).toBe(name === 'wpo-hb' ? true : undefined);
        }
        if (p.optim === 'adamw_torch') expect([y.adam_beta1, y.adam_beta2, y.adam_epsilon]).toEqual([0.9, 0.999, 1e-8]);
        else expect(y.adam_beta1).toBeUndefined();
        // the trl-0.9 sequence rules the presets train with are not TRL 1.x's: said, not hidden
        expect(r.warnings.join('\n')).toMatch(/sequence_style: .*trl-0\.9/);
      });
    }
  }

  it('WPO: the weight clamp TRL 1.x lacks is a warning and a YAML comment; --wpo_no_clamp matches TRL', () => {
    const clamped = recipe({ preset: 'wpo-hb' });
    const w = clamped.warnings.find((x) => x.startsWith('use_weighting:'));
    expect(w).toMatch(/clamps the WPO pair weight at 1/);
    expect(w).toMatch(/Nearest TRL setting: use_weighting: true/);
    expect(clamped.files['recipe.yaml']).toContain(`# - ${w}`);
    expect(clamped.files['README.md']).toContain(w);
    const unclamped = recipe({ preset: 'wpo-hb', wpo_no_clamp: true });
    expect(unclamped.warnings.some((x) => x.startsWith('use_weighting:'))).toBe(false);
    expect(parsed(unclamped).use_weighting).toBe(true);
  });

  it('SPPO and GPO are not mapped silently: the nearest TRL loss, named', () => {
    for (const t of ['sppo', 'sppo_single', 'gpo']) {
      const r = recipe({ loss_type: [t] });
      expect(parsed(r).loss_type).toEqual(['sppo_hard']);
      expect(r.warnings.join('\n')).toMatch(new RegExp(`loss_type ${t}: .*not in TRL.*Nearest TRL setting: loss_type sppo_hard`));
      expect(r.files['recipe.yaml']).toMatch(/loss_type: \["sppo_hard"\] {2}# NOT the same loss/);
    }
  });
});

describe('settings', () => {
  it('LoRA from the ModelConfig flags, and from a LoraConfig', () => {
    const y = parsed(recipe({ preset: 'dpo', use_peft: true, lora_r: 8, lora_alpha: 16, lora_dropout: 0.1, lora_target_modules: ['q_proj', 'v_proj'], use_rslora: true }));
    expect([y.use_peft, y.lora_r, y.lora_alpha, y.lora_dropout, y.lora_target_modules, y.use_rslora]).toEqual([true, 8, 16, 0.1, ['q_proj', 'v_proj'], true]);
    expect(y.disable_dropout, 'TRL would otherwise zero lora_dropout with the model\'s dropouts').toBe(false);
    const z = parsed(recipe({ preset: 'simpo' }, { lora: { r: 4, alpha: 8, dropout: 0, targets: ['o_proj'], useRslora: false } }));
    expect([z.use_peft, z.lora_r, z.lora_alpha, z.lora_dropout, z.lora_target_modules, z.use_rslora, z.disable_dropout]).toEqual([true, 4, 8, 0, ['o_proj'], undefined, undefined]);
    const half = recipe({ use_peft: true, lora_alpha: 2.5 });
    expect(parsed(half).lora_alpha).toBe(3); // ModelConfig.lora_alpha is an int
    expect(half.warnings.join('\n')).toMatch(/lora_alpha: 2\.5 is not an integer/);
  });

  it('several losses, rpo_alpha, label smoothing, LD-DPO, f-divergences, reference_free', () => {
    const mpo = parsed(recipe({ loss_type: ['sigmoid', 'bco_pair', 'sft'], loss_weights: [0.8, 0.2, 1] }));
    expect([mpo.loss_type, mpo.loss_weights]).toEqual([['sigmoid', 'bco_pair', 'sft'], [0.8, 0.2, 1]]);
    const rpo = parsed(recipe({ rpo_alpha: 0.5 }));
    expect([rpo.loss_type, rpo.loss_weights, rpo.rpo_alpha]).toEqual([['sigmoid', 'sft'], [1, 0.5], undefined]);
    const cdpo = recipe({ label_smoothing: 0.1 });
    expect(parsed(cdpo).label_smoothing).toBe(0.1);
    expect(cdpo.warnings.join('\n')).toMatch(/label_smoothing: .*ignores label_smoothing.*Nearest TRL setting: loss_type robust/);
    expect(parsed(recipe({ loss_type: ['exo_pair'] })).label_smoothing, 'the ε PrefStudio uses').toBe(1e-3);
    expect(parsed(recipe({ loss_type: ['robust'], label_smoothing: 0.1 })).label_smoothing).toBe(0.1);
    expect(recipe({ loss_type: ['robust'], label_smoothing: 0.1 }).warnings.some((w) => w.startsWith('label_smoothing'))).toBe(false);
    expect(parsed(recipe({ ld_alpha: 0.5 })).ld_alpha).toBe(0.5);
    const js = parsed(recipe({ f_divergence_type: 'alpha', f_alpha_divergence_coef: 0.3 }));
    expect([js.f_divergence_type, js.f_alpha_divergence_coef]).toEqual(['alpha_divergence', 0.3]);
    const nca = recipe({ loss_type: ['nca_pair'], f_divergence_type: 'js' });
    expect(parsed(nca).f_divergence_type).toBeUndefined();
    expect(nca.warnings.join('\n')).toMatch(/f_divergence_type: TRL 1\.x refuses/);
    expect(parsed(recipe({ loss_type: ['discopop'], discopop_tau: 0.1 })).discopop_tau).toBe(0.1);
    const free = recipe({ reference_free: true });
    expect(parsed(free).precompute_ref_log_probs).toBeUndefined();
    expect(free.warnings.join('\n')).toMatch(/reference_free: .*no reference_free/);
  });

  it('SimPO + sft and cpo_alpha become CPO\'s cpo_alpha', () => {
    expect(parsed(recipe({ loss_type: ['simpo', 'sft'], loss_weights: [1, 0.3], cpo_alpha: 0.2 })).cpo_alpha).toBeCloseTo(0.5, 12);
    const scaled = recipe({ loss_type: ['simpo'], loss_weights: [2] });
    expect(scaled.warnings.join('\n')).toMatch(/weighs the SimPO loss by 2/);
    const weighted = recipe({ loss_type: ['simpo'], use_weighting: true });
    expect(parsed(weighted).use_weighting).toBeUndefined();
    expect(weighted.warnings.join('\n')).toMatch(/CPOConfig has no WPO weighting/);
  });

  it('schedule and batch: max_steps, warmup steps, no clipping, GPU counts that do not divide the batch', () => {
    const y = parsed(recipe({ max_steps: 100, warmup_steps: 7, max_grad_norm: 0, per_device_train_batch_size: 4, gradient_accumulation_steps: 4 }, { numProcesses: 2 }));
    expect([y.max_steps, y.num_train_epochs, y.warmup_steps, y.max_grad_norm]).toEqual([100, undefined, 7, 0]);
    expect([y.per_device_train_batch_size, y.gradient_accumulation_steps]).toEqual([4, 2]);
    const odd = recipe({ per_device_train_batch_size: 3 });
    expect([parsed(odd).per_device_train_batch_size, parsed(odd).gradient_accumulation_steps]).toEqual([3, 1]);
    expect(odd.warnings.join('\n')).toMatch(/3 pairs per optimizer step .* do not split over 8 GPUs/);
  });

  it('TRL 1.x sequence rules: no warning; max_length null is no limit', () => {
    const r = recipe({ sequence_style: 'trl-1.x', max_length: 512 });
    expect(parsed(r).max_length).toBe(512);
    expect(r.warnings).toEqual([]);
    expect(parsed(recipe({ sequence_style: 'trl-1.x', max_length: 512 }, { numProcesses: 1 })).per_device_train_batch_size).toBe(8);
  });

  it('bad settings are named', () => {
    expect(() => recipe({ loss_type: ['sigmoid'], beta: -1 })).toThrow(/beta/);
    expect(() => recipe({ preset: 'nope' })).toThrow(/unknown preset 'nope'/);
    expect(() => recipe({}, { numProcesses: 0 })).toThrow(EngineError);
    expect(() => recipe({}, { model: ' ' })).toThrow(/model_name_or_path/);
  });

  it('floats are written as PyYAML reads floats', () => {
    const written = ['0.000001', '5.0e-7', '2.0', '0.1', '1.5e+21', '-3.0e-9'];
    expect([yamlFloat(1e-6), yamlFloat(5e-7), yamlFloat(2), yamlFloat(0.1), yamlFloat(1.5e21), yamlFloat(-3e-9)]).toEqual(written);
    for (const s of written) expect(s).toMatch(PYYAML_FLOAT);
    expect('1e-6').not.toMatch(PYYAML_FLOAT);
    expect(recipe({ learning_rate: 5e-7 }).files['recipe.yaml']).toContain('\nlearning_rate: 5.0e-7\n');
  });
});

describe('datasetJsonl', () => {
  const lines = (text: string): unknown[] => text.trim().split('\n').map((l) => JSON.parse(l) as unknown);

  it('standard rows, with the prompt made explicit as TRL extracts it', () => {
    const out = datasetJsonl({ file: 'pairs.jsonl', rows: [
      { prompt: 'Q?', chosen: ' yes', rejected: ' no', score_chosen: 1 },
      { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
    ] });
    expect(out.form).toBe('standard');
    expect(lines(out.text)).toEqual([
      { prompt: 'Q?', chosen: ' yes', rejected: ' no' },
      { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' },
    ]);
  });

  it('conversational and UltraFeedback-style rows', () => {
    const u = (content: string) => ({ role: 'user', content });
    const a = (content: string) => ({ role: 'assistant', content });
    const out = datasetJsonl({ file: 'pairs.jsonl', rows: [
      { prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
      { prompt: 'ignored string prompt', chosen: [u('2+2?'), a('4')], rejected: [u('2+2?'), a('5')] },
    ] });
    expect(out.form).toBe('conversational');
    expect(out.rows).toBe(2);
    expect(lines(out.text)).toEqual([
      { prompt: [u('Hi')], chosen: [a('Hello!')], rejected: [a('Go away.')] },
      { prompt: [u('2+2?')], chosen: [a('4')], rejected: [a('5')] },
    ]);
  });

  it('refuses token ids, mixed forms and malformed rows, naming them', () => {
    expect(() => datasetJsonl({ file: 'ids.jsonl', rows: [{ prompt: [1, 2], chosen: [3], rejected: [4] }] })).toThrow(/token-id rows/);
    expect(() => datasetJsonl({ file: 'mixed.jsonl', rows: [{ prompt: 'a', chosen: 'b', rejected: 'c' }, { prompt: [{ role: 'user', content: 'a' }], chosen: [{ role: 'assistant', content: 'b' }], rejected: [{ role: 'assistant', content: 'c' }] }] })).toThrow(/mixes text rows \(e\.g\. row index 0\) and chat-message rows \(e\.g\. row index 1\)/);
    let err: unknown;
    try {
      datasetJsonl({ file: 'bad.jsonl', rows: [{ prompt: 'a', chosen: 'b', rejected: 'c' }, { prompt: 'a', chosen: '' , rejected: 'c' }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toMatch(/line 2: chosen is an empty string/);
  });
});
