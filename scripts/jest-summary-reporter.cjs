// Jest reporter that records each run's counts in RUNWASI_TEST_SUMMARY_DIR, so `npm test` can end
// with one line for all packages.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const dir = process.env.RUNWASI_TEST_SUMMARY_DIR;
    if (!dir) return;
    const file = join(dir, `${process.pid}-${Date.now()}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        cwd: process.cwd(),
        passed: results.numPassedTests,
        failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
        skipped: results.numPendingTests + results.numTodoTests,
      }),
    );
  }
}
module.exports = SummaryReporter;
