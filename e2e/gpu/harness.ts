// The GPU op suite's harness lives with the engine (src/engine/check/harness.ts), since the studio's
// Check screen runs the same cases on the user's GPU; the e2e cases and tests import it from here.
export * from '../../src/engine/check/harness.ts';
