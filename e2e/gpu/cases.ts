// Collects every GPU case: the op cases the engine ships (src/engine/check/suite.ts, which the
// studio's Check screen runs too) and the engine-level case modules under ./cases (engine, pool,
// recompute, 16-bit weights), through Vite's import.meta.glob, which works both in Vitest (Node)
// and in the browser bundle.
import { CHECK_MODULES } from '../../src/engine/check/suite.ts';
import type { GpuCase } from './harness.ts';

const modules = import.meta.glob<{ cases: GpuCase[] }>('./cases/*.ts', { eager: true });

export interface CaseModule {
  file: string;
  cases: GpuCase[];
}

export const caseModules: CaseModule[] = [
  ...CHECK_MODULES.map((m) => ({ file: m.file, cases: m.cases })),
  ...Object.entries(modules).map(([file, m]) => ({ file: file.replace('./cases/', ''), cases: m.cases ?? [] })),
].sort((a, b) => a.file.localeCompare(b.file));

/** All cases, optionally filtered by a comma-separated list of substrings (CASES=rmsnorm,rope). */
export function selectCases(filter?: string): GpuCase[] {
  const all = caseModules.flatMap((m) => m.cases);
  if (!filter) return all;
  const keys = filter.split(',').map((k) => k.trim()).filter(Boolean);
  return all.filter((c) => keys.some((k) => c.name.includes(k)));
}
