// WGSL files are imported as text (Vite `?raw`; scripts/wgsl-loader.mjs in plain Node).
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
