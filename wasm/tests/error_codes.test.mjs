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

test('ConveyorError has the wire error names, the camelCase ones as aliases', () => {
  const e = new ConveyorError('decode_failed', 'x', { stage: 'decode', job_id: 7 });
  assert.deepEqual([e.code, e.numeric_code, e.stage, e.job_id, e.message], ['decode_failed', 4, 'decode', 7, 'x']);
  assert.equal(e.numericCode, 4);
  assert.equal(e.jobId, 7);
});

test('the event and stage names come from the core', async () => {
  const { EVENT_TYPES, STAGES } = await import('../js/index.js');
  assert.ok(EVENT_TYPES.includes('job_finished') && !EVENT_TYPES.includes('lagged'));
  assert.deepEqual(STAGES.slice(0, 2), ['submit', 'queue']);
});
