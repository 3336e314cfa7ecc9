// The contributions in package.json agree with the code: every setting spackle reads is contributed
// with a type, a default and a description, and every command the extension registers is declared.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { CLIENT_ONLY_KEYS, SETTING_KEYS } from '../src/settings';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const properties: Record<string, { type?: string; default?: unknown; description?: string; markdownDescription?: string; enum?: unknown[] }> =
  manifest.contributes.configuration.properties;

test('every spackle setting is contributed with a type, a default of that type and a description', () => {
  for (const { vscode } of SETTING_KEYS) {
    const property = properties[`spackle.${vscode}`];
    assert.ok(property, `spackle.${vscode} is not contributed`);
    assert.ok(property.description || property.markdownDescription, `spackle.${vscode} has no description`);
    const expected = property.type === 'integer' ? 'number' : property.type;
    assert.equal(typeof property.default, expected, `spackle.${vscode}: the default is not a ${property.type}`);
    if (property.enum) {
      assert.ok(property.enum.includes(property.default), `spackle.${vscode}: the default is not one of the choices`);
    }
  }
});

test('nothing is contributed that the extension would not send or use', () => {
  const known = new Set([...SETTING_KEYS.map((key) => `spackle.${key.vscode}`), ...CLIENT_ONLY_KEYS.map((key) => `spackle.${key}`)]);
  for (const name of Object.keys(properties)) {
    assert.ok(known.has(name), `${name} is contributed but not used`);
  }
});

test('every command the extension registers is declared, except the one run on acceptance', () => {
  const source = readFileSync(path.join(root, 'src', 'extension.ts'), 'utf8');
  const registered = [...source.matchAll(/register\('([^']+)'/g)].map((match) => match[1]);
  const declared = manifest.contributes.commands.map((command: { command: string }) => command.command);
  assert.ok(registered.length >= 9);
  assert.deepEqual(registered.filter((name) => name !== 'spackle.accepted').sort(), [...declared].sort());
  // Server-side commands are never registered as VS Code commands: vscode-languageclient does that.
  assert.ok(!registered.includes('spackle.generateDocstring'));
  assert.ok(!registered.includes('spackle.comment'));
});

test('the extension starts for Python and ships a bundled entry point', () => {
  assert.deepEqual(manifest.activationEvents, ['onLanguage:python']);
  assert.equal(manifest.main, './dist/extension.js');
  assert.equal(manifest.dependencies['vscode-languageclient'], '11.0.0');
});

test('partial accept: a key for the next line; the next word keeps the Ctrl+Right of VS Code', () => {
  const bindings: { command: string; key: string; when?: string }[] = manifest.contributes.keybindings;
  const nextLine = bindings.find((binding) => binding.command === 'editor.action.inlineSuggest.acceptNextLine');
  assert.ok(nextLine, 'no key for acceptNextLine (VS Code has none by default)');
  assert.equal(nextLine.key, 'alt+down');
  // Alt+Down moves lines otherwise: only while a suggestion shows, and without a selection.
  assert.match(nextLine.when ?? '', /inlineSuggestionVisible/);
  assert.match(nextLine.when ?? '', /!editorHasSelection/);
  assert.ok(!bindings.some((binding) => binding.command === 'editor.action.inlineSuggest.acceptNextWord'));
});

test('pausing is a client-only boolean setting, off by default, with commands to set it', () => {
  assert.equal(properties['spackle.completion.paused'].type, 'boolean');
  assert.equal(properties['spackle.completion.paused'].default, false);
  assert.ok(CLIENT_ONLY_KEYS.includes('completion.paused'));
  assert.ok(!SETTING_KEYS.some((key) => key.vscode === 'completion.paused'));
  const declared = manifest.contributes.commands.map((command: { command: string }) => command.command);
  for (const name of ['spackle.toggle', 'spackle.pause', 'spackle.resume']) {
    assert.ok(declared.includes(name), name);
  }
});
