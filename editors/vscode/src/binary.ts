// Finding the spackle binary: the `spackle.path` setting, else PATH, else ~/.cargo/bin.
// No VS Code API here, so the Node test runner can test it.

import * as path from 'node:path';

export interface Environment {
  /** The PATH variable. */
  pathVariable: string | undefined;
  /** The user's home folder. */
  home: string;
  platform: NodeJS.Platform;
  /** Whether `file` exists and can be run. */
  isExecutable(file: string): boolean;
}

export type Found = { ok: true; path: string; how: 'setting' | 'PATH' | 'cargo' } | { ok: false; message: string };

/** Expands a leading `~` and `${workspaceFolder}` in the configured path. */
export function expandPath(configured: string, home: string, workspaceFolder: string | undefined): string {
  let result = configured.trim();
  if (result === '~' || result.startsWith('~/') || result.startsWith('~\\')) {
    result = path.join(home, result.slice(1));
  }
  if (workspaceFolder !== undefined) {
    result = result.split('${workspaceFolder}').join(workspaceFolder);
  }
  return result;
}

export function findBinary(configured: string | undefined, env: Environment, workspaceFolder?: string): Found {
  const exe = env.platform === 'win32' ? 'spackle.exe' : 'spackle';
  if (configured !== undefined && configured.trim() !== '') {
    const file = expandPath(configured, env.home, workspaceFolder);
    if (env.isExecutable(file)) {
      return { ok: true, path: file, how: 'setting' };
    }
    return { ok: false, message: `The setting spackle.path points at ${file}, which is not an executable file.` };
  }
  const separator = env.platform === 'win32' ? ';' : ':';
  for (const folder of (env.pathVariable ?? '').split(separator)) {
    if (folder === '') {
      continue;
    }
    const file = path.join(folder, exe);
    if (env.isExecutable(file)) {
      return { ok: true, path: file, how: 'PATH' };
    }
  }
  const cargo = path.join(env.home, '.cargo', 'bin', exe);
  if (env.isExecutable(cargo)) {
    return { ok: true, path: cargo, how: 'cargo' };
  }
  return {
    ok: false,
    message:
      'spackle is not installed: no `spackle` on PATH or in ~/.cargo/bin. Install it with `cargo install --path .` in spackle\'s repository, or set spackle.path.',
  };
}
