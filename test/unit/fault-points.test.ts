// The crash tests' switch (src/faults.ts) is for tests only: TESSERA_FAULT_POINT is read only under
// NODE_ENV=test or TESSERA_TEST_FAULTS=1, and only a known step can be armed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { armFaultPoint, FAULT_POINTS } from '../../src/faults.ts';

describe('fault points', () => {
  test('TESSERA_FAULT_POINT is ignored unless the test-only flag is set', () => {
    const point = 'reset.password-set';
    assert.equal(loadConfig({ TESSERA_FAULT_POINT: point }).faultPoint, null);
    assert.equal(loadConfig({ TESSERA_FAULT_POINT: point, NODE_ENV: 'production' }).faultPoint, null);
    assert.equal(loadConfig({ TESSERA_FAULT_POINT: point, TESSERA_TEST_FAULTS: 'yes' }).faultPoint, null);
    assert.equal(loadConfig({ TESSERA_FAULT_POINT: point, NODE_ENV: 'test' }).faultPoint, point);
    assert.equal(loadConfig({ TESSERA_FAULT_POINT: point, TESSERA_TEST_FAULTS: '1' }).faultPoint, point);
  });

  test('only a named step can be armed', () => {
    assert.throws(() => armFaultPoint('reset.somewhere'), /unknown fault point reset\.somewhere: one of reset\.link-consumed/);
    for (const point of FAULT_POINTS) armFaultPoint(point);
    armFaultPoint(null);
  });
});
