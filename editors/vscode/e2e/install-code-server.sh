#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3, the last line that runs on Node 20) into $1, from the
# npm registry alone, for the VS Code end-to-end suite (editors/tests/test_vscode.py).
#
# code-server's own postinstall downloads ripgrep from outside the package registries, so the
# packages are installed with --ignore-scripts and the postinstall is redone here by hand, with
# Debian's `rg`. Native modules build against Node's headers in /usr/include/node.
# Needs: node 20 and npm, gcc, g++, make, python3, and Debian's ripgrep and libkrb5-dev.
# Usage: install-code-server.sh DIR
set -euo pipefail
DIR="$1"
VERSION=4.100.3
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
quiet=(--no-audit --no-fund --loglevel=error)

mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name": "spackle-code-server", "private": true}' > package.json
npm install --ignore-scripts "${quiet[@]}" "code-server@$VERSION"
# The top-level native module: node-pre-gyp finds no prebuilt binary it may fetch and builds it.
npm rebuild "${quiet[@]}" argon2

cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts "${quiet[@]}"
# node-pty's own install step ends with `npx node-gyp` for a compile_commands.json nobody needs and
# fails there after the module is built; the test below checks the module itself.
npm rebuild "${quiet[@]}" @vscode/spdlog @vscode/deviceid native-watchdog kerberos @parcel/watcher || true
npm rebuild "${quiet[@]}" node-pty || true
test -f node_modules/node-pty/build/Release/pty.node
test -f node_modules/@vscode/spdlog/build/Release/spdlog.node
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev "${quiet[@]}")

"$DIR/node_modules/.bin/code-server" --config "$DIR/config.yaml" --version
