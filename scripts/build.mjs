// SPDX-License-Identifier: GPL-2.0-only
//
// The whole build, run by `npm install` (and `npm run build`):
//   1. the kernel library: make -C lkl (installs missing Debian packages when
//      root, else prints the apt-get command; a cold build takes minutes and
//      prints one line per file)
//   2. constants generated from the kernel headers (ts/generated/)
//   3. the addon: node-gyp configure (once) + build -> build/Release/lkl.node
//   4. the TypeScript: tsc -> dist/ (with .d.ts)
// Each step is skipped when its output is newer than its inputs, so a second
// `npm install` rebuilds nothing.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function step(title) {
  console.log(`\n== lkl-node: ${title}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`\nlkl-node: "${command} ${args.join(' ')}" failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -Infinity;
  }
}

function newestIn(dir, suffix) {
  let newest = -Infinity;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix))
      newest = Math.max(newest, mtime(join(entry.parentPath ?? entry.path, entry.name)));
  }
  return newest;
}

const started = Date.now();

step('kernel library (make -C lkl)');
run('make', ['-C', 'lkl']);

const library = join(root, 'out/lkl/liblkl.a');
const includeDir = join(root, 'out/lkl/include');
const constants = join(root, 'ts/generated/constants.ts');
if (mtime(constants) < mtime(join(includeDir, 'lkl/asm/unistd.h')) || mtime(constants) < mtime(join(root, 'scripts/gen-constants.mjs'))) {
  step('constants from the kernel headers');
  run(process.execPath, ['scripts/gen-constants.mjs', includeDir, constants]);
}

step('addon (node-gyp)');
const nodeGyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js');
const addon = join(root, 'build/Release/lkl.node');
// Build against this Node's own headers when it has them (no download).
const gypArgs = [];
const localHeaders = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(localHeaders, 'include/node/node_api.h')))
  gypArgs.push(`--nodedir=${localHeaders}`);
if (mtime(join(root, 'build/Makefile')) < mtime(join(root, 'binding.gyp')))
  run(process.execPath, [nodeGyp, 'configure', ...gypArgs]);
// node-gyp's make does not know the addon depends on liblkl.a: relink by
// hand.  The link's own output (obj.target) must go too: build/Release's
// copy alone would be copied again from the stale link.
if (mtime(addon) < mtime(library)) {
  rmSync(addon, { force: true });
  rmSync(join(root, 'build/Release/obj.target/lkl.node'), { force: true });
}
run(process.execPath, [nodeGyp, 'build', ...gypArgs]);

const stamp = join(root, 'dist/.build-stamp');
const tsInputs = Math.max(newestIn(join(root, 'ts'), '.ts'), mtime(join(root, 'tsconfig.json')));
if (mtime(stamp) < tsInputs) {
  // typescript's exports hide bin/tsc from require.resolve: find the package.
  let tsc;
  try {
    tsc = join(dirname(require.resolve('typescript/package.json')), 'bin/tsc');
  } catch {
    if (!existsSync(join(root, 'dist/index.js'))) {
      console.error('lkl-node: dist/ is missing and TypeScript is not installed: run "npm install" with devDependencies');
      process.exit(1);
    }
  }
  if (tsc) {
    step('TypeScript (tsc -> dist/)');
    run(process.execPath, [tsc, '-p', 'tsconfig.json']);
    mkdirSync(dirname(stamp), { recursive: true });
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  }
} else {
  step('TypeScript: dist/ is up to date');
}

console.log(`\n== lkl-node: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
