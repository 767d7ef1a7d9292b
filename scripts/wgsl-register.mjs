import { register } from 'node:module';
register('./wgsl-loader.mjs', import.meta.url);
