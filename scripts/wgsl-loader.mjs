// Node module hooks: `import x from './file.wgsl?raw'` yields the file's text, as under Vite.
// Used by the bench and CLI (`node --import tsx --import ./scripts/wgsl-register.mjs ...`).
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  const u = new URL(url);
  if (u.pathname.endsWith('.wgsl')) {
    const text = await readFile(u, 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
