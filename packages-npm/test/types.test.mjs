// The .d.ts files type-check and describe the API as used (tsc --noEmit on test/types/usage.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pkgDir } from './helpers.mjs';

test('TypeScript types compile against a realistic use of the API', () => {
  const tsc = join(pkgDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(pkgDir, 'test', 'types', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
