// The JS package's error codes against the shared table that the Rust core generates
// (testdata/error_codes.json, checked in Rust, C and Python too): same names, same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ERROR_CODES, ConveyorError } from '../js/index.js';

const table = JSON.parse(fs.readFileSync(new URL('../../testdata/error_codes.json', import.meta.url), 'utf8'));

test('ERROR_CODES matches testdata/error_codes.json exactly', () => {
  const shared = Object.fromEntries(table.map((e) => [e.name, e.code]));
  assert.deepEqual({ ...ERROR_CODES }, shared);
});

test('ConveyorError carries the shared numeric code', () => {
  for (const { name, code } of table) {
    const e = new ConveyorError(name, 'x');
    assert.equal(e.code, name);
    assert.equal(e.numericCode, code);
  }
  assert.equal(new ConveyorError('no_such_code', 'x').numericCode, -1);
});
