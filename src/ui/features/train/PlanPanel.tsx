// The memory planner's estimate for the settings shown, before anything starts: GPU bytes by
// category, the total, and — when the run cannot work on this adapter — a refusal that says why and
// what to change (Start training is disabled with it).

import { fmtBytes, fmtParams } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';

export function PlanPanel() {
  const plan = useStudioStore(trainSelectors.plan);
  const problem = useStudioStore(trainSelectors.planProblem);
  return (
    <section className="card train-plan" aria-labelledby="train-plan-heading">
      <h3 id="train-plan-heading">Memory estimate</h3>
      {!plan ? (
        <p className="muted">{problem ?? 'Estimating…'}</p>
      ) : (
        <>
          <p className="small">
            {plan.mode === 'lora' ? 'LoRA' : 'Full fine-tuning'} of {plan.modelName}: {fmtParams(plan.trainable)} trainable parameters, {plan.sequences} sequences of up to {plan.tokens} tokens per micro-batch.
          </p>
          <table className="kv plan-table" aria-label="Memory estimate by category">
            <tbody>
              {plan.parts.map((p) => (
                <tr key={p.name}>
                  <th scope="row">{p.name}</th>
                  <td className="num">{fmtBytes(p.bytes)}</td>
                  <td className="what">{p.what}</td>
                </tr>
              ))}
              <tr className="sum">
                <th scope="row">at once</th>
                <td className="num">{fmtBytes(plan.live)}</td>
                <td className="what">the most held at one moment ({plan.peakPhase})</td>
              </tr>
              <tr className="total">
                <th scope="row">total</th>
                <td className="num" data-testid="plan-total">
                  {fmtBytes(plan.total)}
                </td>
                <td className="what">what the GPU must hold: buffers are pooled in size classes</td>
              </tr>
            </tbody>
          </table>
          {plan.refusal ? (
            <p className="problem" role="alert" data-testid="plan-refusal">
              This run will not fit: {plan.refusal}
            </p>
          ) : (
            <p className="muted small">{plan.note}</p>
          )}
        </>
      )}
    </section>
  );
}
