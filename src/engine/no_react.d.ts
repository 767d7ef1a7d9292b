// The engine never imports React, react-dom or zustand: src/engine/tsconfig.json resolves those
// package names to this empty module, so any use of them in engine code is a compile error here.
// UI state belongs in src/ui; the engine talks to the UI only through worker/protocol.ts.
export type EngineCodeMustNotImportReactOrZustand = never;
