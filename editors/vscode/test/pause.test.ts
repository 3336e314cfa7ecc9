import assert from 'node:assert/strict';
import { test } from 'node:test';

import { shouldAsk } from '../src/pause';
import { statusView } from '../src/status';

test('by default every request goes to the server', () => {
  assert.equal(shouldAsk({ enabled: true, paused: false, invoked: false }), true);
  assert.equal(shouldAsk({ enabled: true, paused: false, invoked: true }), true);
});

test('paused: automatic requests are not sent, an explicit one (Alt+\\) still is', () => {
  assert.equal(shouldAsk({ enabled: true, paused: true, invoked: false }), false);
  assert.equal(shouldAsk({ enabled: true, paused: true, invoked: true }), true);
});

test('turned off: nothing is sent, paused or not, asked for or not', () => {
  for (const paused of [false, true]) {
    for (const invoked of [false, true]) {
      assert.equal(shouldAsk({ enabled: false, paused, invoked }), false, `paused ${paused}, invoked ${invoked}`);
    }
  }
});

test('the status bar shows a pause, and says how to resume', () => {
  const view = statusView({ kind: 'paused' });
  assert.equal(view.text, '$(debug-pause) spackle');
  assert.equal(view.severity, 'normal');
  assert.match(view.tooltip, /paused/);
  assert.match(view.tooltip, /Alt\+\\/);
  assert.match(view.tooltip, /click to resume/);
});
