import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';

import { Environment, expandPath, findBinary } from '../src/binary';

function environment(executables: string[], overrides: Partial<Environment> = {}): Environment {
  const set = new Set(executables);
  return { pathVariable: '/usr/bin:/opt/tools/bin', home: '/home/ada', platform: 'linux', isExecutable: (file) => set.has(file), ...overrides };
}

test('the setting wins, with ~ and ${workspaceFolder} expanded', () => {
  const env = environment(['/home/ada/bin/spackle', '/work/proj/target/debug/spackle', '/usr/bin/spackle']);
  assert.deepEqual(findBinary('~/bin/spackle', env), { ok: true, path: '/home/ada/bin/spackle', how: 'setting' });
  assert.deepEqual(findBinary('${workspaceFolder}/target/debug/spackle', env, '/work/proj'), {
    ok: true,
    path: '/work/proj/target/debug/spackle',
    how: 'setting',
  });
});

test('a setting that points nowhere is an error naming the path, not a silent fallback', () => {
  const found = findBinary('/nope/spackle', environment(['/usr/bin/spackle']));
  assert.equal(found.ok, false);
  assert.match(!found.ok ? found.message : '', /spackle\.path points at \/nope\/spackle/);
});

test('without a setting: the first PATH entry that has spackle, then ~/.cargo/bin', () => {
  assert.deepEqual(findBinary('', environment(['/opt/tools/bin/spackle', '/home/ada/.cargo/bin/spackle'])), {
    ok: true,
    path: '/opt/tools/bin/spackle',
    how: 'PATH',
  });
  assert.deepEqual(findBinary(undefined, environment(['/home/ada/.cargo/bin/spackle'])), {
    ok: true,
    path: '/home/ada/.cargo/bin/spackle',
    how: 'cargo',
  });
});

test('on Windows the binary is spackle.exe and PATH is split on semicolons', () => {
  const exe = path.join('C:\\tools', 'spackle.exe');
  const env = environment([exe], { platform: 'win32', pathVariable: 'C:\\windows;C:\\tools' });
  assert.deepEqual(findBinary(undefined, env), { ok: true, path: exe, how: 'PATH' });
});

test('nothing found says how to install it', () => {
  const found = findBinary(undefined, environment([], { pathVariable: undefined }));
  assert.equal(found.ok, false);
  assert.match(!found.ok ? found.message : '', /cargo install --path \./);
});

test('expandPath leaves other paths alone', () => {
  assert.equal(expandPath(' /usr/local/bin/spackle ', '/home/ada', undefined), '/usr/local/bin/spackle');
  assert.equal(expandPath('~', '/home/ada', undefined), '/home/ada');
});
