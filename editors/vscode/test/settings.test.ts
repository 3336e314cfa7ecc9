import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SETTING_KEYS, describeSettings, needsRestart, toSpackleSettings } from '../src/settings';

test('nothing set in VS Code sends no settings, so spackle.toml and the defaults apply', () => {
  assert.deepEqual(toSpackleSettings(() => undefined), {});
  assert.match(describeSettings({}), /none set in VS Code/);
});

test('explicit settings become spackle.toml tables with snake_case keys', () => {
  const set: Record<string, unknown> = {
    'model.backend': 'openai',
    'model.apiKeyEnv': 'MY_KEY',
    'model.maxTokens': 64,
    'model.firstTokenTimeoutMs': 900,
    'completion.debounceMs': 0,
    'completion.enable': false,
    'context.repositoryTokens': 3000,
  };
  assert.deepEqual(toSpackleSettings((key) => set[key]), {
    model: { backend: 'openai', api_key_env: 'MY_KEY', max_tokens: 64, first_token_timeout_ms: 900 },
    completion: { debounce_ms: 0, enable: false },
    context: { repository_tokens: 3000 },
  });
});

test('empty strings and nulls count as not set', () => {
  const set: Record<string, unknown> = { 'model.endpoint': '  ', 'model.name': null, 'model.template': 'qwen' };
  assert.deepEqual(toSpackleSettings((key) => set[key]), { model: { template: 'qwen' } });
});

test('every key maps to a two-level spackle key once', () => {
  const spackleKeys = SETTING_KEYS.map((key) => key.spackle);
  assert.equal(new Set(spackleKeys).size, spackleKeys.length);
  for (const key of spackleKeys) {
    assert.match(key, /^(model|completion|context|actions|diagnostics)\.[a-z_]+$/);
  }
});

test('a new binary path restarts the server; other changes do not', () => {
  assert.equal(needsRestart((section) => section === 'spackle.path'), true);
  assert.equal(needsRestart((section) => section === 'spackle.model.name'), false);
});

test('the description lists each setting sent', () => {
  assert.equal(describeSettings({ model: { name: 'x' }, completion: { rounds: 1 } }), 'model.name = "x"\ncompletion.rounds = 1');
});
