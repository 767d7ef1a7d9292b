// The check suite's registry (CPU only): every case module under cases/ is registered, case names
// are unique (the report and CASES= filters name them), and every quick name is a real case.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_MODULES, checkCases } from './suite.ts';

describe('check suite registry', () => {
  it('registers every module under src/engine/check/cases once', () => {
    const files = readdirSync(join(import.meta.dirname, 'cases')).filter((f) => f.endsWith('.ts')).sort();
    expect(CHECK_MODULES.map((m) => m.file).sort(), 'src/engine/check/suite.ts CHECK_MODULES vs the files in cases/').toEqual(files);
  });

  it('case names are unique', () => {
    const names = checkCases('full').map((c) => c.case.name);
    const dupes = names.filter((n, i) => names.indexOf(n) !== i);
    expect(dupes, 'case names used twice').toEqual([]);
  });

  it('the quick check names real cases and covers every op with at least one', () => {
    const quick = checkCases('quick'); // throws naming a missing case
    const ops = new Set(CHECK_MODULES.map((m) => m.op));
    expect(new Set(quick.map((c) => c.op)), 'ops without a quick case').toEqual(ops);
    expect(quick.length).toBeLessThan(checkCases('full').length / 4);
  });
});
