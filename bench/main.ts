// npm run bench [-- --json] [-- --quick]: the matmul bench (bench/matmul.ts), then the training
// bench (bench/train.ts), on the adapter src/engine/node.ts picks (PREFSTUDIO_ADAPTER).
// --json prints one JSON object: { adapter, matmul: <bench/matmul.ts's object>, train: <bench/train.ts's> }.

import { benchArgs } from './common.ts';
import { matmulBench } from './matmul.ts';
import { trainBench } from './train.ts';

async function main(): Promise<void> {
  const opts = benchArgs();
  const matmul = await matmulBench(opts);
  opts.log('');
  const train = await trainBench(opts);
  if (opts.json) console.log(JSON.stringify({ adapter: matmul.adapter, matmul, train }, null, 2));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
