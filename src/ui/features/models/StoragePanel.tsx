// How much of the browser's storage this site uses and may still use (navigator.storage.estimate(),
// refreshed after every change to the stored models), and a request to make it persistent
// (navigator.storage.persist()), explained in one sentence.

import { requestPersist } from '../../engine/storage.ts';
import { fmtBytes } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import { storageSelectors } from '../../store/slices/storage/selectors.ts';

export function StoragePanel() {
  const usage = useStudioStore(storageSelectors.usage);
  const quota = useStudioStore(storageSelectors.quota);
  const available = useStudioStore(storageSelectors.available);
  const supported = useStudioStore(storageSelectors.supported);

  return (
    <section className="card secondary" aria-labelledby="storage-heading" data-testid="storage">
      <h3 id="storage-heading">Storage</h3>
      {usage !== null && quota !== null && available !== null ? (
        <>
          <p data-testid="storage-estimate" data-usage={usage} data-available={available}>
            This site uses <strong>{fmtBytes(usage)}</strong>; <strong>{fmtBytes(available)}</strong> more is available to it.
          </p>
          <div className="meter">
            <progress max={quota} value={usage} aria-label={`Storage used: ${fmtBytes(usage)} of ${fmtBytes(quota)}`} />
          </div>
          <p className="muted small">The browser's estimate, for everything the studio keeps here: models, unfinished imports and cached reference values.</p>
        </>
      ) : (
        <p className="muted" data-testid="storage-estimate">{supported ? 'Reading how much storage is used…' : 'This browser does not say how much storage is used or available.'}</p>
      )}

      <Persistence />
    </section>
  );
}

/** Whether the site's storage is persistent, and the one-sentence reason to ask for it. */
function Persistence() {
  const persisted = useStudioStore(storageSelectors.persisted);
  const persist = useStudioStore(storageSelectors.persist);
  if (persisted) {
    return (
      <div className="persist">
        <p data-testid="persist-status" data-persist="granted">
          Storage is persistent: the browser will not clear the studio's data on its own; only you can delete it.
        </p>
      </div>
    );
  }
  if (persist === 'unsupported') {
    return (
      <div className="persist">
        <p className="muted" data-testid="persist-status" data-persist="unsupported">This browser cannot make storage persistent.</p>
      </div>
    );
  }
  return (
    <div className="persist">
      <p id="persist-explain">
        When the disk runs low, browsers may clear a site's data; persistent storage asks the browser to keep your models and runs until you delete them.
      </p>
      <button type="button" data-testid="persist" aria-describedby="persist-explain" disabled={persist === 'asking'} onClick={() => void requestPersist()}>
        {persist === 'asking' ? 'Asking…' : 'Make storage persistent'}
      </button>
      {persist === 'denied' && (
        <p className="muted small" data-testid="persist-status" data-persist="denied">
          The browser said no for now: it decides from how the site is used (a bookmark or an installed app helps). Your data stays unless the disk runs low.
        </p>
      )}
    </div>
  );
}
