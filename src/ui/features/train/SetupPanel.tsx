// What to train: the model, the preference file (the Data screen's), the loss — a published recipe
// (preset) or one of TRL's loss types, in the select named "Loss" — and the settings by their TRL
// names, each with the CLI's one-line help. An empty field takes the preset's value (scaled for
// the model's size, as the trainer scales it) or the trainer's default, shown as its placeholder.
// The form is locked while a run is on.

import { useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { dataCommands } from '../../engine/dataset.ts';
import { checkValue, effectiveValue, FIELDS, LOSS_OPTIONS, lossTypesOf, parseLoss, presetValues, type SettingField, type SettingGroup } from '../../engine/trainSettings.ts';
import { fmtBytes } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import type { LossChoice } from '../../store/slices/train/initialState.ts';
import { trainActions } from '../../store/slices/train/actions.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';
import { flagHelp } from './flagHelp.ts';

const GROUPS: { group: SettingGroup; title: string }[] = [
  { group: 'loss', title: 'Loss settings' },
  { group: 'optimizer', title: 'Optimizer' },
  { group: 'schedule', title: 'Length and batches' },
  { group: 'lora', title: 'LoRA or full fine-tuning' },
  { group: 'checkpoints', title: 'Checkpoints' },
];

/** The chosen model's parameter count (the demo's until the list arrives). */
function useModel() {
  const chosen = useStudioStore(trainSelectors.modelId);
  const models = useStudioStore(useShallow(modelsSelectors.sortedList));
  const model = chosen ? models.find((m) => m.id === chosen) : models.find((m) => m.isDemo);
  return { models, model: model ?? null, parameters: model?.parameters ?? 0 };
}

export function SetupPanel() {
  const live = useStudioStore(trainSelectors.isLive);
  return (
    <section className="card train-setup" aria-labelledby="train-setup-heading">
      <h3 id="train-setup-heading">Setup</h3>
      <fieldset className="plain" disabled={live}>
        <legend className="visually-hidden">Model, data and settings</legend>
        <ModelAndData />
        <LossChoiceField />
        <SettingsFields />
      </fieldset>
    </section>
  );
}

function ModelAndData() {
  const { models, model } = useModel();
  const chosen = useStudioStore(trainSelectors.modelId);
  const sourceName = useStudioStore(dataSelectors.sourceName);
  const kind = useStudioStore(dataSelectors.sourceKind);
  const status = useStudioStore(dataSelectors.status);
  const pairs = useStudioStore(dataSelectors.pairs);
  const bytes = useStudioStore(dataSelectors.sourceBytes);
  return (
    <div className="train-source">
      <div className="field">
        <label htmlFor="train-model">Model</label>
        <select id="train-model" value={chosen ?? model?.id ?? ''} onChange={(e) => trainActions.modelChosen(models.find((m) => m.id === e.currentTarget.value)?.isDemo ? null : e.currentTarget.value)}>
          {models.length === 0 && <option value="">the demo model (being prepared)</option>}
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
              {m.isDemo ? ' (demo)' : ''} · {fmtBytes(m.bytes)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <span className="label">Preference file</span>
        <p className="value" data-testid="train-data">
          {sourceName ? (
            <>
              <code>{sourceName}</code>
              {kind === 'demo' ? ' (the demo set)' : ''} · {fmtBytes(bytes)} ·{' '}
              {status === 'ready' ? `${pairs} pairs` : status === 'failed' ? 'could not be read' : 'reading…'}
            </>
          ) : (
            'none yet'
          )}{' '}
          · <a href="#/data">change it on the Data screen</a>
        </p>
      </div>
    </div>
  );
}

function LossChoiceField() {
  const loss = useStudioStore(trainSelectors.loss);
  const { parameters } = useModel();
  const { preset } = parseLoss(loss);
  const note = presetValues(loss, parameters).note;
  const typeInfo = LOSS_OPTIONS.types.find((t) => t.value === loss);
  return (
    <div className="field loss-field">
      <label htmlFor="train-loss">Loss</label>
      <select id="train-loss" value={loss} aria-describedby="train-loss-help" onChange={(e) => trainActions.lossChosen(e.currentTarget.value as LossChoice)}>
        <optgroup label="Published recipes (preset)">
          {LOSS_OPTIONS.presets.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </optgroup>
        <optgroup label="TRL loss_type">
          {LOSS_OPTIONS.types.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </optgroup>
      </select>
      <p id="train-loss-help" className="help">
        {preset ? (note ?? LOSS_OPTIONS.presets.find((p) => p.value === loss)?.source) : typeInfo?.description}
      </p>
    </div>
  );
}

function SettingsFields() {
  const loss = useStudioStore(trainSelectors.loss);
  const { parameters } = useModel();
  const types = lossTypesOf(loss, parameters);
  const values = useStudioStore(trainSelectors.values);
  const peft = effectiveValue('use_peft', values, loss, parameters).value === true;
  const shown = (f: SettingField): boolean => (!f.when || f.when(types)) && (f.group !== 'lora' || f.name === 'use_peft' || peft);
  const main = FIELDS.filter((f) => !f.more && shown(f));
  const more = FIELDS.filter((f) => f.more && shown(f));
  return (
    <>
      {GROUPS.map(({ group, title }) => {
        const fields = main.filter((f) => f.group === group);
        if (fields.length === 0 && group !== 'schedule') return null;
        return (
          <fieldset key={group} className="settings-group">
            <legend>{title}</legend>
            <div className="settings-grid">
              {fields.map((f) => (
                <Setting key={f.name} field={f} parameters={parameters} />
              ))}
              {group === 'schedule' && <SequenceLimits />}
            </div>
          </fieldset>
        );
      })}
      <details className="settings-more">
        <summary>More settings</summary>
        <div className="settings-grid">
          {more.map((f) => (
            <Setting key={f.name} field={f} parameters={parameters} />
          ))}
        </div>
      </details>
    </>
  );
}

/** One setting: its TRL name as the label, the value (empty: the placeholder's), its help line. */
function Setting({ field, parameters }: { field: SettingField; parameters: number }) {
  const id = useId();
  const loss = useStudioStore(trainSelectors.loss);
  const text = useStudioStore(trainSelectors.value(field.name));
  const values = useStudioStore(trainSelectors.values);
  const eff = effectiveValue(field.name, values, loss, parameters);
  const bad = checkValue(field, text);
  const from = eff.source === 'preset' ? `the preset's` : eff.source === 'default' ? 'the default' : null;
  const help = (
    <span id={`${id}-help`} className="help">
      {flagHelp(field.name)}
      {bad && (
        <strong className="bad" role="alert">
          {' '}
          {field.name} {bad}.
        </strong>
      )}
    </span>
  );
  if (field.type === 'bool') {
    return (
      <div className="setting bool">
        <label>
          <input type="checkbox" checked={eff.value === true} aria-describedby={`${id}-help`} onChange={(e) => trainActions.valueChanged(field.name, String(e.currentTarget.checked))} />
          <code>{field.name}</code>
          {from && <span className="from"> ({from})</span>}
        </label>
        {help}
      </div>
    );
  }
  if (field.type === 'enum') {
    return (
      <div className="setting">
        <label htmlFor={id}>
          <code>{field.name}</code>
        </label>
        <select id={id} value={text} aria-describedby={`${id}-help`} onChange={(e) => trainActions.valueChanged(field.name, e.currentTarget.value)}>
          <option value="">{`${String(eff.source === 'given' ? effectiveValue(field.name, { ...values, [field.name]: '' }, loss, parameters).value : eff.value)} (${from ?? 'default'})`}</option>
          {field.choices!.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
        {help}
      </div>
    );
  }
  const placeholder = eff.source === 'given' ? '' : eff.value === null ? 'none' : String(eff.value);
  return (
    <div className="setting">
      <label htmlFor={id}>
        <code>{field.name}</code>
        {from && eff.value !== null && <span className="from"> ({from})</span>}
      </label>
      <input
        id={id}
        type="text"
        inputMode={field.type === 'int' ? 'numeric' : 'decimal'}
        value={text}
        placeholder={placeholder}
        aria-invalid={bad ? true : undefined}
        aria-describedby={`${id}-help`}
        onChange={(e) => trainActions.valueChanged(field.name, e.currentTarget.value)}
      />
      {help}
    </div>
  );
}

/** max_length and max_prompt_length: the Data screen's settings (changing them here changes them there). */
function SequenceLimits() {
  const settings = useStudioStore(dataSelectors.settings);
  return (
    <>
      {(['max_length', 'max_prompt_length'] as const).map((name) => (
        <Limit key={name} name={name} value={settings[name]} disabled={name === 'max_prompt_length' && settings.sequence_style === 'trl-1.x'} />
      ))}
    </>
  );
}

function Limit({ name, value, disabled }: { name: 'max_length' | 'max_prompt_length'; value: number | null; disabled: boolean }) {
  const id = useId();
  return (
    <div className="setting">
      <label htmlFor={id}>
        <code>{name}</code>
      </label>
      <input
        id={id}
        type="text"
        inputMode="numeric"
        disabled={disabled}
        defaultValue={value === null ? '' : String(value)}
        key={String(value)}
        placeholder="no limit"
        aria-describedby={`${id}-help`}
        onBlur={(e) => {
          const t = e.currentTarget.value.trim();
          const n = Number(t);
          if (t === '') void dataCommands.changeSettings({ [name]: null });
          else if (Number.isInteger(n) && n > 0) void dataCommands.changeSettings({ [name]: n });
        }}
      />
      <span id={`${id}-help`} className="help">
        {flagHelp(name)} (the Data screen shows what it cuts)
      </span>
    </div>
  );
}
