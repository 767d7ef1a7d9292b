// The render-cost probe bench/studio_render.ts reads: off unless the page was opened with
// `?profile=render` (read once at startup; off, it costs one boolean test per trainStep event and
// no <Profiler> is mounted). On, it records User Timing entries the bench collects with
// performance.getEntriesByName:
//   'prefstudio:trainStep'  each trainStep event's handling on the main thread (series append, store
//                           update, the slices' subscribers), from src/ui/engine/training.ts
//   'prefstudio:commit'     each React commit of the app (a <Profiler> around it in main.tsx): the
//                           render phase's actualDuration, placed at the commit's start

/** True when the page's URL asks for the render-cost probe (?profile=render). */
export const RENDER_PROFILE: boolean = typeof location !== 'undefined' && new URLSearchParams(location.search).get('profile') === 'render';

export const PROFILE_TRAIN_STEP = 'prefstudio:trainStep';
export const PROFILE_COMMIT = 'prefstudio:commit';

/** Records a trainStep event handled since `start` (performance.now()). */
export function profileTrainStep(start: number): void {
  performance.measure(PROFILE_TRAIN_STEP, { start, end: performance.now() });
}

/** React <Profiler onRender>: records one commit's render time. */
export function profileCommit(_id: string, _phase: string, actualDuration: number, _baseDuration: number, startTime: number): void {
  performance.measure(PROFILE_COMMIT, { start: startTime, duration: actualDuration });
}
