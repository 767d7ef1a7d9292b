// The GPU panel: one line saying which WebGPU adapter the engine worker found (or why it found
// none), what a software adapter means in plain words, and its limits and features folded away
// under "details".

import { useStudioStore } from '../../store/index.ts';
import { deviceSelectors } from '../../store/slices/device/selectors.ts';

export function DevicePanel() {
  const status = useStudioStore(deviceSelectors.status);
  const adapter = useStudioStore(deviceSelectors.adapter);
  const limits = useStudioStore(deviceSelectors.limits);
  const features = useStudioStore(deviceSelectors.features);
  const problem = useStudioStore(deviceSelectors.problem);

  return (
    <section className="card secondary" data-testid="device" data-status={status} aria-labelledby="device-heading">
      <h3 id="device-heading">GPU</h3>
      {(status === 'idle' || status === 'probing') && <p className="muted">Looking for a WebGPU adapter…</p>}

      {status === 'unavailable' && (
        <div className="problem" role="alert">
          <p><strong>WebGPU is unavailable here.</strong> {problem?.message}</p>
          {problem?.hint && <p>What to do: {problem.hint}</p>}
        </div>
      )}

      {status === 'error' && problem && (
        <div className="problem" role="alert">
          <p><strong>{problem.name}</strong>{problem.where ? ` in ${problem.where}` : ''}: {problem.message}</p>
          {problem.hint && <p>What to do: {problem.hint}</p>}
        </div>
      )}

      {adapter && (
        <>
          <p data-testid="device-summary">
            {adapter.description || [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(' ') || 'WebGPU adapter'}
            {adapter.isSoftware ? <span className="badge warn" title="A CPU implementation: correct, slow">software</span> : null}
            <span className="muted small"> · {features.length ? features.join(', ') : 'no optional features'}</span>
          </p>
          {adapter.isSoftware ? (
            <p data-testid="software-note">
              This is a <strong>software adapter</strong>: the browser runs WebGPU on the processor (CPU) instead of a graphics card. Results are just as correct, but training is many times slower — fine for the demo, slow for real checkpoints. If this computer has a graphics card, turn on hardware acceleration in the browser's settings and reload.
            </p>
          ) : (
            <p className="muted small" data-testid="software-note">A graphics card runs the engine.</p>
          )}
          <details data-testid="device-details">
            <summary>Adapter, limits and features</summary>
            <table data-testid="adapter" className="kv">
              <tbody>
                <Row k="vendor" v={adapter.vendor} />
                <Row k="architecture" v={adapter.architecture} />
                <Row k="device" v={adapter.device} />
                <Row k="description" v={adapter.description} />
                <Row k="software adapter" v={adapter.isSoftware ? 'yes (CPU emulation: correct, slow)' : 'no'} />
                <Row k="subgroup size" v={adapter.subgroupMaxSize ? `${adapter.subgroupMinSize}–${adapter.subgroupMaxSize}` : ''} />
              </tbody>
            </table>
            <h4>Limits (raised to the adapter's maximum)</h4>
            <table data-testid="limits" className="kv">
              <tbody>
                {Object.entries(limits).map(([k, v]) => (
                  <Row key={k} k={k} v={fmtLimit(k, v)} />
                ))}
              </tbody>
            </table>
            <h4>Features</h4>
            <p data-testid="features">{features.length ? features.join(', ') : 'none of shader-f16, subgroups, timestamp-query'}</p>
          </details>
        </>
      )}
    </section>
  );
}

function Row({ k, v }: { k: string; v: string }) {
  return (
    <tr>
      <th>{k}</th>
      <td>{v || '—'}</td>
    </tr>
  );
}

/** Byte-sized limits as MiB/GiB, the rest as plain numbers. */
function fmtLimit(name: string, v: number): string {
  if (!/Size$/.test(name) || /WorkgroupSize/.test(name) || v < 1024) return v.toLocaleString('en-US');
  if (v >= 2 ** 30) return `${(v / 2 ** 30).toFixed(2)} GiB`;
  if (v >= 2 ** 20) return `${(v / 2 ** 20).toFixed(1)} MiB`;
  return `${(v / 1024).toFixed(1)} KiB`;
}
