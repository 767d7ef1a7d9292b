// The Train screen: the setup (model, preference file, "Loss", settings by TRL name) beside the run
// (the five controls, progress, checkpoints) and the memory estimate; below, the live dashboard of
// the run shown. The demo trains in one click: the demo model, the demo set (selected here as on
// the Data screen) and the wpo-hb preset are the defaults.

import { useEffect } from 'react';
import { dataCommands } from '../../engine/dataset.ts';
import { useRunsLoaded } from '../../engine/training.ts';
import { Screen } from '../../shell/Screen.tsx';
import { Dashboard } from './Dashboard.tsx';
import { PlanPanel } from './PlanPanel.tsx';
import { RunPanel } from './RunPanel.tsx';
import { SetupPanel } from './SetupPanel.tsx';
import { usePlan } from './usePlan.ts';
import './train.css';

export function TrainScreen() {
  useEffect(() => dataCommands.ensureSelected(), []);
  useRunsLoaded();
  usePlan();
  return (
    <Screen id="train">
      <div className="columns train-columns">
        <SetupPanel />
        <div>
          <RunPanel />
          <PlanPanel />
        </div>
      </div>
      <Dashboard />
    </Screen>
  );
}
