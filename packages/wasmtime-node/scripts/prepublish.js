#!/usr/bin/env node
// Before `npm publish` of @runwasi/wasmtime-node (napi-rs style): lists every platform package of
// npm/ as an optional dependency at this package's version, so npm installs the one matching the
// user's machine. The repository's package.json leaves them out, so the workspace never installs
// packages for other machines. Run `pnpm run artifacts` and publish the platform packages first.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const manifestPath = path.join(pkgDir, 'package.json');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
const optional = {};
for (const triple of fs.readdirSync(path.join(pkgDir, 'npm')).sort()) {
  const platform = JSON.parse(fs.readFileSync(path.join(pkgDir, 'npm', triple, 'package.json'), 'utf8'));
  if (platform.version !== manifest.version) {
    process.stderr.write(`prepublish: npm/${triple} is at ${platform.version}, this package at ${manifest.version}\n`);
    process.exit(1);
  }
  optional[platform.name] = manifest.version;
}
manifest.optionalDependencies = optional;
fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
process.stderr.write(`prepublish: ${Object.keys(optional).length} platform packages listed as optional dependencies\n`);
