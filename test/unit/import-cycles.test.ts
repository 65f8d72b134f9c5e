// The import-cycle check that `npm test` runs over src/: what it counts as a cycle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cycles } from '../../scripts/check-import-cycles.ts';

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

test('a tree of imports has no cycle', () => {
  assert.deepEqual(cycles(graph({ a: ['b', 'c'], b: ['c'], c: [] })), []);
});

test('two modules importing each other, and a longer ring, are cycles', () => {
  assert.deepEqual(cycles(graph({ login: ['mfa'], mfa: ['login'], kit: [] })), [['login', 'mfa']]);
  assert.deepEqual(cycles(graph({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c']]);
});

test('a module importing itself is a cycle', () => {
  assert.deepEqual(cycles(graph({ a: ['a'], b: [] })), [['a']]);
});
