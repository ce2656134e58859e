// The platform triple this package's native builds are named by (`linux-x64-gnu`, ...), and the
// npm package that ships them for it.
'use strict';

function libc() {
  if (process.platform !== 'linux') return '';
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : undefined;
  return report?.header?.glibcVersionRuntime ? '-gnu' : '-musl';
}

const triple = `${process.platform}-${process.arch}${libc()}`;

module.exports = { triple, platformPackage: `@runwasi/wasmtime-node-${triple}` };
