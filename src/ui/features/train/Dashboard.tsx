// The live dashboard of the run the Train screen shows: TRL's batch metrics as uPlot charts,
// tokens/s, the latest values as a table, the GPU memory the engine holds (its buffer pool after
// the latest step of the run this page trains), and the per-pair view (PairsPanel). Everything reads the
// run's typed-array series (src/ui/engine/series.ts) and redraws when the store's tick moves —
// at most once per animation frame, whatever the step rate.

import { runCommands } from '../../engine/training.ts';
import type { MetricKey } from '../../engine/series.ts';
import { fmtValue, MetricChart, type ChartLine } from '../../shared/MetricChart.tsx';
import { fmtBytes } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import { runsSelectors } from '../../store/slices/runs/selectors.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';
import { PairsPanel } from './PairsPanel.tsx';
import { useShownRun } from './useShownRun.ts';

/** The charts: a title and the metrics drawn in it (a second one dashed). */
export const CHARTS: { title: string; keys: MetricKey[]; unit?: string }[] = [
  { title: 'loss', keys: ['loss'] },
  { title: 'rewards/chosen and rewards/rejected', keys: ['rewards/chosen', 'rewards/rejected'] },
  { title: 'rewards/margins', keys: ['rewards/margins'] },
  { title: 'rewards/accuracies', keys: ['rewards/accuracies'] },
  { title: 'logps/chosen and logps/rejected', keys: ['logps/chosen', 'logps/rejected'] },
  { title: 'grad_norm', keys: ['grad_norm'] },
  { title: 'learning_rate', keys: ['learning_rate'] },
  { title: 'tokens/s', keys: ['tokens_per_s'], unit: 'tokens/s' },
];

/** The latest-values table's rows. */
const LATEST: MetricKey[] = ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'grad_norm', 'learning_rate', 'epoch', 'tokens_per_s'];

export function Dashboard() {
  const run = useShownRun();
  const tick = useStudioStore(trainSelectors.tick) + useStudioStore(runsSelectors.seriesTick);
  const plan = useStudioStore(trainSelectors.plan);
  const active = useStudioStore(trainSelectors.active);
  const mem = run && active?.runId === run.id ? active.gpuMemory : null;
  const series = run ? runCommands.series(run.id) : null;
  return (
    <section className="train-dashboard" aria-labelledby="train-dashboard-heading">
      <h3 id="train-dashboard-heading">Live dashboard{run ? `: ${run.name}` : ''}</h3>
      {!run || !series || series.length === 0 ? (
        <p className="muted coming">{run ? 'The charts fill in as the first steps arrive.' : 'Start training: the charts and every pair appear here, step by step.'}</p>
      ) : (
        <>
          <div className="dash-top">
            <table className="latest" aria-label="Latest metrics">
              <caption>Step {series.lastStep()}</caption>
              <tbody>
                {LATEST.map((k) => (
                  <tr key={k}>
                    <th scope="row">
                      <code>{k === 'tokens_per_s' ? 'tokens/s' : k}</code>
                    </th>
                    <td className="num">{fmtValue(series.last(k))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted small gpu-memory" data-testid="gpu-memory">
              {mem ? (
                <>
                  GPU memory: {fmtBytes(mem.held)} held by the engine ({fmtBytes(mem.inUse)} in live tensors), peak {fmtBytes(mem.peak)}.
                </>
              ) : (
                <>GPU memory: shown while this page trains the run{plan ? `; the plan estimates ${fmtBytes(plan.total)}` : ''}.</>
              )}
            </p>
          </div>
          <div className="charts">
            {CHARTS.map((c) => (
              <MetricChart
                key={c.title}
                title={c.title}
                unit={c.unit}
                tick={tick}
                lines={c.keys.map<ChartLine>((k, i) => ({ label: k === 'tokens_per_s' ? 'tokens/s' : k, color: i, dashed: i > 0, points: () => ({ x: series.steps(), y: series.column(k) }) }))}
              />
            ))}
          </div>
          <PairsPanel runId={run.id} series={series} tick={tick} useWeighting={run.settings.use_weighting === true} />
        </>
      )}
    </section>
  );
}
