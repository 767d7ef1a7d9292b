// The one typed boundary between the UI and the engine worker (src/engine/train/worker.ts).
// Commands go UI → worker, events go worker → UI; both are discriminated unions on `type`, so a
// `switch (msg.type)` narrows every field. Only plain, structured-cloneable data crosses: no
// classes, no GPU objects, no functions.
//
// Not here: how either side reacts. The worker owns the engine; the UI side
// (src/ui/engine/useEngine.ts, the only UI file importing this) turns events into store actions.
// Later issues add model import, dataset and training commands and their progress events.

import type { AdapterDescription } from '../device.ts';

// ------------------------------------------------------------------ commands (UI → worker)

/** Acquire (once) the WebGPU adapter and device and report them with an `adapter` event. */
export interface ProbeCommand {
  type: 'probe';
}

export type Command = ProbeCommand;

// ------------------------------------------------------------------ events (worker → UI)

/** The adapter the engine runs on, with the limits it raised and the features it turned on. */
export interface AdapterEvent {
  type: 'adapter';
  info: AdapterDescription;
  /** Device limits as granted (raised to the adapter's maximum), e.g. maxBufferSize. */
  limits: Record<string, number>;
  /** Optional features enabled on the device (shader-f16, subgroups, timestamp-query, …). */
  features: string[];
}

/**
 * Something failed. `name` is the error class (NoAdapterError means WebGPU is unavailable;
 * DeviceLostError means the device is gone); `message` says what, `where` which op/file/step,
 * `hint` what the user can do.
 */
export interface ErrorEvent {
  type: 'error';
  name: string;
  message: string;
  hint?: string;
  where?: string;
}

export type EngineEvent = AdapterEvent | ErrorEvent;
