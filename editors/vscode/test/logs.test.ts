import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseLogLine } from '../src/logs';

test("spackle's log levels map to the output channel's, without the timestamp", () => {
  assert.deepEqual(parseLogLine('2026-12-03T07:16:42.523456Z  INFO spackle::lsp::server: indexed 12 files'), {
    level: 'info',
    message: 'spackle::lsp::server: indexed 12 files',
  });
  assert.deepEqual(parseLogLine('2026-12-03T07:16:42.523456Z  WARN spackle: no completion').level, 'warn');
  assert.deepEqual(parseLogLine('2026-12-03T07:16:42.523456Z DEBUG spackle: asked').level, 'debug');
  assert.deepEqual(parseLogLine('2026-12-03T07:16:42.523456Z TRACE spackle: frame').level, 'trace');
  assert.deepEqual(parseLogLine('2026-12-03T07:16:42.523456Z ERROR spackle: broken').level, 'error');
});

test('a line that is not a tracing line (a panic) is an error', () => {
  assert.deepEqual(parseLogLine("thread 'main' panicked at src/main.rs:1:1"), {
    level: 'error',
    message: "thread 'main' panicked at src/main.rs:1:1",
  });
});
