// Keeps the train slice's memory estimate in step with the settings shown: the model, batch size,
// max_length (and the data's longest sequence), LoRA rank and gradient checkpointing. Recomputed
// a moment after the last change (typing a number should not plan at every key).

import { useEffect } from 'react';
import { planRun } from '../../engine/plan.ts';
import { effectiveValue } from '../../engine/trainSettings.ts';
import { useStudioStore } from '../../store/index.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { deviceSelectors } from '../../store/slices/device/selectors.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { trainActions } from '../../store/slices/train/actions.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';

export function usePlan(): void {
  const chosen = useStudioStore(trainSelectors.modelId);
  const models = useStudioStore(modelsSelectors.list);
  const values = useStudioStore(trainSelectors.values);
  const loss = useStudioStore(trainSelectors.loss);
  const settings = useStudioStore(dataSelectors.settings);
  const histogram = useStudioStore(dataSelectors.histogram);
  const limits = useStudioStore(deviceSelectors.limits);
  const adapter = useStudioStore(deviceSelectors.adapter);

  useEffect(() => {
    const model = chosen ? models.find((m) => m.id === chosen) : models.find((m) => m.isDemo);
    if (!model) {
      trainActions.planned(null, chosen ? 'The chosen model is no longer stored.' : 'The demo model is still being prepared.');
      return;
    }
    const eff = (name: string): unknown => effectiveValue(name, values, loss, model.parameters).value;
    const maxLength = settings.max_length ?? model.vocab; // no limit: the longest pair decides
    const longest = histogram?.longest.tokens;
    const peft = eff('use_peft') === true;
    let cancelled = false;
    const t = setTimeout(() => {
      planRun({
        modelId: model.id,
        batch: Math.max(1, Number(eff('per_device_train_batch_size')) || 1),
        tokens: longest !== undefined ? Math.min(maxLength, longest) : maxLength,
        lora: peft ? { r: Math.max(1, Number(eff('lora_r')) || 1) } : null,
        stored16: /BF16|F16/.test(model.dtype),
        gradientCheckpointing: eff('gradient_checkpointing') === true,
        optim: eff('optim') === 'rmsprop' ? 'rmsprop' : 'adamw_torch',
        limits,
        isSoftware: adapter?.isSoftware ?? false,
      }).then(
        (plan) => !cancelled && trainActions.planned(plan),
        (e: unknown) => !cancelled && trainActions.planned(null, `No estimate: ${e instanceof Error ? e.message : String(e)}.`),
      );
    }, 150);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [chosen, models, values, loss, settings, histogram, limits, adapter]);
}
