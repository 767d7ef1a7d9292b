// Structural rules that keep "one obvious place per concept" true (STYLE.md §1-2, §12):
// every shader has an op that dispatches it, every op has a shader, a float64 reference and GPU
// cases, and the engine never reaches into the UI, React, zustand or the DOM.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

function walk(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((f) => {
    const p = join(dir, f);
    return statSync(join(root, p)).isDirectory() ? walk(p) : [p];
  });
}

const engineTs = walk('src/engine').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const engineText = engineTs.map((f) => read(f)).join('\n');
const benchText = walk('bench').map((f) => read(f)).join('\n');
const shaderFiles = readdirSync(join(root, 'src/gpu/shaders')).filter((f) => f.endsWith('.wgsl'));
const NOT_OPS = new Set(['util.ts', 'index.ts']);
const opFiles = readdirSync(join(root, 'src/engine/ops')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !NOT_OPS.has(f));

describe('structure', () => {
  it('every shader file is registered in shaders/index.ts and dispatched by engine code (or the bench)', () => {
    const index = read('src/gpu/shaders/index.ts');
    for (const f of shaderFiles) {
      const name = f.replace('.wgsl', '');
      expect(index, `${f} is not imported in src/gpu/shaders/index.ts`).toContain(`./${f}?raw`);
      if (name === 'common' || name.endsWith('_common')) continue; // shared declarations, no entry points
      const entries = [...read(`src/gpu/shaders/${f}`).matchAll(/@compute[^\n]*\n\s*fn\s+(\w+)/g)].map((m) => m[1]);
      expect(entries.length, `${f} has no @compute entry point`).toBeGreaterThan(0);
      const used = new RegExp(`['\`]${name}['\`]`).test(engineText + benchText);
      expect(used, `no engine code dispatches shader '${name}'`).toBe(true);
    }
  });

  it('every op has a shader, a float64 reference and GPU cases', () => {
    for (const f of opFiles) {
      const name = f.replace('.ts', '');
      const text = read(`src/engine/ops/${f}`);
      expect(/shader: ['`]/.test(text), `ops/${f} dispatches no shader`).toBe(true);
      expect(readdirSync(join(root, 'src/engine/reference')), `no reference/${name}.ts`).toContain(`${name}.ts`);
      expect(readdirSync(join(root, 'src/engine/reference')), `no reference/${name}.test.ts`).toContain(`${name}.test.ts`);
      expect(readdirSync(join(root, 'e2e/gpu/cases')), `no e2e/gpu/cases/${name}.ts`).toContain(`${name}.ts`);
    }
  });

  it('the engine imports nothing from the UI, React, zustand, and uses no DOM', () => {
    for (const f of engineTs) {
      const text = read(f);
      const rel = relative(root, join(root, f));
      expect(/from\s+['"][^'"]*(\/ui\/|^react|['"]react|zustand)/.test(text), `${rel} imports UI code`).toBe(false);
      expect(/\b(document|window)\s*\./.test(text), `${rel} uses the DOM`).toBe(false);
    }
  });
});
