// Adds up the counts the jest summary reporter recorded and prints them as the closing line.
// Exits non-zero when a test failed or when no test ran at all.
const { readdirSync, readFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const name of readdirSync(dir)) {
  const run = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  console.log(`  ${relative(process.cwd(), run.cwd) || '.'}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  passed += run.passed;
  failed += run.failed;
  skipped += run.skipped;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
