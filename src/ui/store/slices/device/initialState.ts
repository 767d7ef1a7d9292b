// Device slice: the WebGPU adapter the engine worker found, or why it found none.
// These are the UI's own types (plain data copied from the worker's `adapter` / `error` events);
// the UI never imports engine types outside src/ui/engine/useEngine.ts.

/** idle → probing → ready | unavailable (no WebGPU / no adapter) | error (anything else). */
export type DeviceStatus = 'idle' | 'probing' | 'ready' | 'unavailable' | 'error';

export interface AdapterView {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (SwiftShader, lavapipe): correct but slow. */
  isSoftware: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface DeviceProblem {
  /** Error class name, e.g. NoAdapterError, DeviceLostError. */
  name: string;
  message: string;
  hint?: string;
  where?: string;
}

export interface DeviceState {
  device: {
    status: DeviceStatus;
    adapter: AdapterView | null;
    /** Limits as the engine raised them (name → value). */
    limits: Record<string, number>;
    /** Optional features the engine turned on. */
    features: string[];
    problem: DeviceProblem | null;
  };
}

export const deviceInitialState: DeviceState = {
  device: { status: 'idle', adapter: null, limits: {}, features: [], problem: null },
};
