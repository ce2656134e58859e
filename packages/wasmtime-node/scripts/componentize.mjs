// Turns a core module into a component: embeds the world `world` of the WIT file `wit` as the
// module's component type, then wraps it (wasm-tools' `component embed` + `component new`).
// Usage: node componentize.mjs <wit> <world> <core.wasm> <out.wasm>
import { readFileSync, writeFileSync } from 'node:fs';

import { componentEmbed, componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';

const [wit, world, core, out] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: node componentize.mjs <wit> <world> <core.wasm> <out.wasm>\n');
  process.exit(2);
}
const embedded = await componentEmbed({ binary: readFileSync(core), witSource: readFileSync(wit, 'utf8'), world });
writeFileSync(out, await componentNew(embedded));
