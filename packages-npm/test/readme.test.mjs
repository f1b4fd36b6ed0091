// The README's first ```js block is a complete Node example: run it as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pkgDir } from './helpers.mjs';

export function readmeExample(readme) {
  const m = /```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README has no ```js block');
  return m[1];
}

test("README's first js block runs and prints what it says", () => {
  const code = readmeExample(readFileSync(join(pkgDir, 'README.md'), 'utf8'));
  assert.match(code, /from '@coffer\/sdk'/);
  // Inside the package directory '@coffer/sdk' resolves to this package (self-reference).
  const file = join(pkgDir, '.readme-example.mjs');
  writeFileSync(file, code);
  try {
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(out, 'hello\n5\nmeet at noon true\n');
  } finally {
    rmSync(file, { force: true });
  }
});
