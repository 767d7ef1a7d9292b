// The Data screen: the preference set to train on. The demo's set is selected the first time the
// screen opens; the user can drop or pick their own. Then: the file and its recognised form, the
// malformed rows, the sequence limits with what they cut and a token-length histogram, and the
// first pairs as the model reads them. State comes from the data slice; the bridge
// (src/ui/engine/dataset.ts) fills it.

import { useEffect } from 'react';
import { dataCommands } from '../../engine/dataset.ts';
import { Screen } from '../../shell/Screen.tsx';
import { DataFilePanel } from './DataFilePanel.tsx';
import { DataIssues } from './DataIssues.tsx';
import { LengthsPanel } from './LengthsPanel.tsx';
import { PairPreview } from './PairPreview.tsx';
import './data.css';

export function DataScreen() {
  useEffect(() => dataCommands.ensureSelected(), []);
  return (
    <Screen id="data">
      <div className="columns data-columns">
        <DataFilePanel />
        <LengthsPanel />
      </div>
      <DataIssues />
      <PairPreview />
    </Screen>
  );
}
