// The package's TypeScript types (js/index.d.ts over the types generated from the Rust
// core, js/types.d.ts) compile under tsc --strict against a usage file that also checks
// misuse is refused (tests/types/usage.ts). Needs only `npm ci` (typescript is pinned).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));

test('the TypeScript types check under tsc --strict', () => {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
