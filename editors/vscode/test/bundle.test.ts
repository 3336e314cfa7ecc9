// The bundle esbuild writes for the .vsix loads in Node with only `vscode` left outside it, and
// exports activate/deactivate. VS Code's API is a stand-in here: nothing is called at load time.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'extension.js');

/** An object that answers every property with another such object, and can be called or constructed. */
function standIn(name: string): any {
  const target = function () {} as any;
  return new Proxy(target, {
    get: (_target, property) => (property === Symbol.toPrimitive ? () => name : standIn(`${name}.${String(property)}`)),
    apply: () => standIn(`${name}()`),
    construct: () => standIn(`new ${name}`),
  });
}

test('the bundle loads with only vscode outside it, and exports activate and deactivate', () => {
  assert.ok(existsSync(bundle), `${bundle} is missing: run scripts/build.mjs`);
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  const requested: string[] = [];
  loader._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') {
      requested.push(request);
      return standIn('vscode');
    }
    return original.call(this, request, ...rest);
  };
  try {
    const extension = require(bundle);
    assert.equal(typeof extension.activate, 'function');
    assert.equal(typeof extension.deactivate, 'function');
    assert.ok(requested.length > 0, 'the bundle asks for vscode at load time');
  } finally {
    loader._load = original;
  }
});
