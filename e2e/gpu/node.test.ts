// The GPU op suite on a real WebGPU adapter in Node (Dawn). No adapter = failure, never a skip.
// Filter with CASES=substring[,substring] for a quick loop on one op.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeEngine } from '../../src/engine/node.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { caseModules, selectCases } from './cases.ts';

let engine: Engine;

beforeAll(async () => {
  engine = await createNodeEngine();
  console.log(`[gpu suite] adapter: ${engine.info.description || engine.info.device} (${engine.info.vendor}/${engine.info.architecture}), features: ${[...engine.features].join(', ')}`);
});

afterAll(() => engine?.destroy());

describe('gpu op suite (node)', () => {
  it('every case module has cases', () => {
    const empty = caseModules.filter((m) => m.cases.length === 0).map((m) => m.file);
    expect(empty, `case modules without cases: ${empty.join(', ')}`).toEqual([]);
    expect(caseModules.length).toBeGreaterThan(0);
  });
  for (const c of selectCases(process.env.CASES)) {
    it(c.name, async () => {
      await c.run(engine);
      await engine.sync();
    });
  }
});
