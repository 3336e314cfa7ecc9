import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeVerification, isIndexing, statusView, stripPrefix } from '../src/status';

test('idle shows a check and the version; the last accepted suggestion goes in the tooltip', () => {
  const view = statusView({ kind: 'idle', version: '0.1.0' }, 'checked (syntax) in 1 round');
  assert.equal(view.text, '$(check) spackle');
  assert.equal(view.severity, 'normal');
  assert.match(view.tooltip, /^spackle 0\.1\.0: ready/);
  assert.match(view.tooltip, /Last accepted suggestion: checked \(syntax\) in 1 round/);
});

test('waiting for the model and indexing spin; indexing shows its percentage', () => {
  assert.equal(statusView({ kind: 'waiting' }).text, '$(loading~spin) spackle');
  assert.match(statusView({ kind: 'waiting' }).tooltip, /waiting for the model/);
  const indexing = statusView({ kind: 'indexing', message: 'site-packages', percentage: 42.4 });
  assert.equal(indexing.text, '$(sync~spin) spackle 42%');
  assert.equal(indexing.tooltip, 'spackle: indexing: site-packages 42%');
  assert.equal(statusView({ kind: 'indexing' }).text, '$(sync~spin) spackle');
});

test('an error shows a warning with the first line of the message, without the spackle: prefix', () => {
  const long = `spackle: cannot reach the model server at http://127.0.0.1:11434: ${'x'.repeat(300)}\nsecond line`;
  const view = statusView({ kind: 'error', message: long });
  assert.equal(view.text, '$(warning) spackle');
  assert.equal(view.severity, 'warning');
  assert.ok(view.tooltip.startsWith('spackle: cannot reach the model server'));
  assert.ok(!view.tooltip.includes('second line'));
  assert.ok(view.tooltip.includes('…'));
  assert.match(view.tooltip, /spackle doctor/);
});

test('missing binary, stopped and disabled states', () => {
  assert.equal(statusView({ kind: 'missing', message: 'not installed' }).severity, 'error');
  assert.match(statusView({ kind: 'stopped' }).tooltip, /restart/);
  assert.match(statusView({ kind: 'disabled' }).tooltip, /off/);
});

test('verification descriptions come from the title, or from the argument', () => {
  assert.equal(describeVerification('spackle: checked (syntax, names) in 2 rounds', undefined), 'checked (syntax, names) in 2 rounds');
  assert.equal(describeVerification(undefined, { rounds: 1, checks: ['syntax'] }), 'checked (syntax) in 1 round');
  assert.equal(describeVerification(undefined, { rounds: 3, checks: ['syntax', 'calls'] }), 'checked (syntax, calls) in 3 rounds');
  assert.equal(describeVerification(undefined, undefined), 'accepted');
});

test('progress titles about indexing are recognised', () => {
  assert.equal(isIndexing('Indexing site-packages'), true);
  assert.equal(isIndexing('spackle'), false);
  assert.equal(isIndexing(undefined), false);
  assert.equal(stripPrefix('spackle: x'), 'x');
});
