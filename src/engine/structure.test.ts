// Structural rules that keep "one obvious place per concept" true (STYLE.md §1-2, §12):
// every shader has an op that dispatches it, every op has a shader, a float64 reference and GPU
// cases, and the engine's tsconfig keeps it from reaching into the UI, React, zustand, Node or the DOM.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** A tsconfig as the compiler reads it (extends resolved, comments allowed). */
function parsedConfig(path: string): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, path), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!parsed) throw new Error(`cannot read ${path}`);
  return parsed;
}
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
      expect(readdirSync(join(root, 'src/engine/check/cases')), `no src/engine/check/cases/${name}.ts`).toContain(`${name}.ts`);
    }
  });

  it('the compiler keeps the engine free of the DOM, Node, React and the UI (src/engine/tsconfig.json)', () => {
    // A probe file in the engine, compiled in memory with the engine's own config: every line that
    // reaches outside the engine must be an error, and code using only what the engine may use must not.
    const config = parsedConfig('src/engine/tsconfig.json');
    const probe = join(root, 'src/engine/__structure_probe__.ts');
    // Re-exports of forbidden modules, spelled through reexport() so this file itself names them only
    // as probe data (the engine really imports none of them).
    const reexport = (name: string, from: string): string => `export { ${name} } from '${from}';`;
    const lines = [
      reexport('useState', 'react'), // react resolves to no_react.d.ts
      reexport('create', 'zustand'),
      reexport('deviceActions', ['..', 'ui', 'store/slices/device/actions.ts'].join('/')), // outside the project (TS6307)
      "export { createNodeEngine } from './node.ts';", // Node-only: its own config
      "export { readFileSync } from 'node:fs';",
      'export const a = document.title;',
      'export const b = window.location;',
      'export const c = process.env.HOME;',
      'export const d = setTimeout(() => 0, 1);',
      'export const e = new Response("x");',
      'export const f = indexedDB;',
      'export const allowed = [performance.now(), new TextEncoder().encode("x"), new TextDecoder().decode(new Uint8Array(1)), console, queueMicrotask];',
    ];
    // One program per line (a line that loads Node's types must not excuse the others); library
    // files are parsed once.
    const host = ts.createCompilerHost(config.options);
    const parsed = new Map<string, ts.SourceFile | undefined>();
    const getSourceFile = host.getSourceFile.bind(host);
    let text = '';
    host.getSourceFile = (name, lang, ...rest) => {
      if (resolve(name) === probe) return ts.createSourceFile(name, text, lang);
      if (!parsed.has(name)) parsed.set(name, getSourceFile(name, lang, ...rest));
      return parsed.get(name);
    };
    const ambient = config.fileNames.filter((f) => f.endsWith('.d.ts')); // platform.d.ts, no_react.d.ts
    const errorOf = (line: string): string | undefined => {
      text = line;
      const program = ts.createProgram({ rootNames: [probe, ...ambient], options: config.options, host });
      const sf = program.getSourceFile(probe)!;
      const d = ts.getPreEmitDiagnostics(program, sf).find((x) => x.file === sf);
      return d && ts.flattenDiagnosticMessageText(d.messageText, ' ');
    };
    for (const line of lines.slice(0, -1)) expect(errorOf(line), `the engine config lets this through: ${line}`).toBeDefined();
    expect(errorOf(lines[lines.length - 1]), 'the engine config rejects what every host has (platform.d.ts)').toBeUndefined();
  });

  it('every engine source file is checked by a config without the DOM, and `npm run typecheck` runs them all', () => {
    const configs = ['src/engine/tsconfig.json', 'src/engine/worker/tsconfig.json', 'src/engine/tsconfig.node.json'];
    const checked = new Set<string>();
    for (const c of configs) {
      const { options, fileNames } = parsedConfig(c);
      expect(options.lib?.some((l) => /dom/i.test(l)), `${c} must not include the DOM lib`).toBe(false);
      for (const f of fileNames) checked.add(relative(root, f));
    }
    const helpers = new Set(['src/engine/model/expect_load_error.ts']); // test helpers import vitest: the root config checks them
    for (const f of engineTs) if (!helpers.has(f)) expect(checked.has(f), `${f} is in none of ${configs.join(', ')}`).toBe(true);
    const typecheck = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.typecheck;
    for (const c of ['tsconfig.json', ...configs]) expect(typecheck, `npm run typecheck does not run -p ${c}`).toContain(`-p ${c}`);
  });
});
