// Adapter and device acquisition, the same code in a browser (navigator.gpu), a Web Worker and
// Node (the `webgpu` npm package, see ./node.ts, which passes its GPU object in here).
//
// What it does beyond requestAdapter/requestDevice:
// - asks for the adapter's *higher* limits (binding size, buffer size, workgroup storage,
//   storage buffers per stage, invocations) instead of the small spec defaults — Gemma's
//   matrices and our matmul tiles need them;
// - turns on `shader-f16`, `subgroups` and `timestamp-query` when the adapter has them;
// - describes the adapter (vendor, architecture, description) so kernel choices can be cached
//   per adapter.
// Error routing (device.lost, uncaptured errors) lives in engine.ts, which owns the device.

import { NoAdapterError } from './errors.ts';

/** Limits we raise to the adapter's maximum when it offers more than the default. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Optional features used when present; every kernel keeps a path without them. */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (SwiftShader, lavapipe/llvmpipe). */
  isSoftware: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface AcquiredDevice {
  /** The GPU object the adapter came from (navigator.gpu, or Dawn's in Node). */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
  features: Set<string>;
  limits: Record<(typeof RAISED_LIMITS)[number], number> & { minStorageBufferOffsetAlignment: number };
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** For tests: request only the spec defaults to exercise small-limit code paths. */
  defaultLimits?: boolean;
  /** Features to leave off even if the adapter has them (tests of fallback paths). */
  disableFeatures?: string[];
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const i = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    isSoftware: /swiftshader|llvmpipe|lavapipe|software|microsoft basic/.test(text),
    subgroupMinSize: i.subgroupMinSize ?? 0,
    subgroupMaxSize: i.subgroupMaxSize ?? 0,
  };
}

/** Gets an adapter and a device with raised limits, or throws NoAdapterError with a hint. */
export async function acquireDevice(gpu: GPU | undefined, opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  if (!gpu) {
    throw new NoAdapterError(
      'device',
      'WebGPU is not available in this environment (navigator.gpu is undefined)',
      'use a browser with WebGPU (Chrome/Edge 113+, or start Chromium with --enable-unsafe-webgpu); in Node, create the engine through src/engine/node.ts',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NoAdapterError(
      'device',
      'requestAdapter() returned null: no WebGPU adapter was found',
      'on a machine without a GPU install a Vulkan software driver (Debian: chromium for SwiftShader, or mesa-vulkan-drivers from bookworm-backports for lavapipe) and set VK_ICD_FILENAMES',
    );
  }
  const requiredLimits: Record<string, number> = {};
  if (!opts.defaultLimits) {
    for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  }
  const disabled = new Set(opts.disableFeatures ?? []);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const device = await adapter.requestDevice({
    label: 'prefstudio.device',
    requiredLimits,
    requiredFeatures: requiredFeatures as GPUFeatureName[],
  });
  const limits = { minStorageBufferOffsetAlignment: device.limits.minStorageBufferOffsetAlignment } as AcquiredDevice['limits'];
  for (const name of RAISED_LIMITS) limits[name] = device.limits[name];
  return { gpu, adapter, device, info: describeAdapter(adapter), features: new Set(device.features), limits };
}
