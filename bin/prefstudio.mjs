#!/usr/bin/env node
// The `prefstudio` command: runs src/cli/main.ts through tsx, with the WGSL text loader.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../scripts/wgsl-loader.mjs', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
