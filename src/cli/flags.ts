// The flag → configuration conversions live in the engine (src/engine/train/config.ts), shared with
// the engine worker's training runs; the CLI's modules import them from here.
export { lossConfigFromFlags, trainOptionsFromFlags, type Flags } from '../engine/train/config.ts';
