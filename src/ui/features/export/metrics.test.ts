// metrics.jsonl / metrics.csv of a run's step records: one line per step, columns as first seen,
// CSV quoting, full precision, per-pair values only in the JSONL.
import { describe, expect, it } from 'vitest';
import { metricColumns, metricsCsv, metricsJsonl, type MetricRecord } from './metrics.ts';

const RECORDS: MetricRecord[] = [
  { step: 1, loss: 0.6931471805599453, 'rewards/chosen': 0, learning_rate: 0.02, epoch: 0.5, pairs: [{ row: 3, weight: 1 }] },
  { step: 2, loss: 0.65, 'rewards/chosen': -0.125, learning_rate: 0.01, epoch: 1, skipped: 'pair 2: "chosen" logp, is NaN', pairs: [] },
];

describe('metrics files', () => {
  it('JSONL: each record as one JSON line, pairs included', () => {
    const lines = metricsJsonl(RECORDS).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0])).toEqual(RECORDS[0]);
    expect(JSON.parse(lines[1])).toEqual(RECORDS[1]);
  });

  it('CSV: step first, scalar columns as first seen, quoting, full precision, no pairs', () => {
    expect(metricColumns(RECORDS)).toEqual(['step', 'loss', 'rewards/chosen', 'learning_rate', 'epoch', 'skipped']);
    expect(metricsCsv(RECORDS)).toBe(
      'step,loss,rewards/chosen,learning_rate,epoch,skipped\r\n' +
        '1,0.6931471805599453,0,0.02,0.5,\r\n' +
        '2,0.65,-0.125,0.01,1,"pair 2: ""chosen"" logp, is NaN"\r\n',
    );
    expect(metricsCsv([{ step: 1, loss: NaN }])).toBe('step,loss\r\n1,NaN\r\n');
    expect(metricsCsv([])).toBe('step\r\n');
  });
});
