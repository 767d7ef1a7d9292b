// npm run bench [-- --json] [-- --quick]: the matmul bench (bench/matmul.ts), the training bench
// (bench/train.ts), then LoRA vs full fine-tuning (bench/memory.ts), on the adapter
// src/engine/node.ts picks (PREFSTUDIO_ADAPTER); then the studio's render cost in headless Chromium
// (bench/studio_render.ts, on the adapter Chromium finds). --json prints one JSON object: { adapter,
// matmul: <bench/matmul.ts's object>, train: <bench/train.ts's>, memory: <bench/memory.ts's>,
// studio_render: <bench/studio_render.ts's> }.

import { benchArgs } from './common.ts';
import { matmulBench } from './matmul.ts';
import { memoryBench } from './memory.ts';
import { studioRenderBench } from './studio_render.ts';
import { trainBench } from './train.ts';

async function main(): Promise<void> {
  const opts = benchArgs();
  const matmul = await matmulBench(opts);
  opts.log('');
  const train = await trainBench(opts);
  opts.log('');
  const memory = await memoryBench(opts);
  opts.log('');
  const studio_render = await studioRenderBench(opts);
  if (opts.json) console.log(JSON.stringify({ adapter: matmul.adapter, matmul, train, memory, studio_render }, null, 2));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
