// Packages the extension as spackle-<version>.vsix: a minified bundle (dependencies are inside it,
// so the .vsix carries no node_modules), package.json and README.md.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
execFileSync(process.execPath, ['scripts/build.mjs', '--production'], { stdio: 'inherit' });
execFileSync(
  process.execPath,
  [
    'node_modules/@vscode/vsce/vsce',
    'package',
    '--no-dependencies',
    '--skip-license',
    '--allow-missing-repository',
    '--out',
    `spackle-${version}.vsix`,
  ],
  { stdio: 'inherit' },
);
