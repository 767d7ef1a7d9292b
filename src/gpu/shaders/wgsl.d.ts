// WGSL files imported as text: `import x from './x.wgsl?raw'` (Vite's `?raw`; in plain Node,
// scripts/wgsl-loader.mjs). Declared here so configs without vite/client (src/engine/tsconfig*.json)
// know the import's type.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
