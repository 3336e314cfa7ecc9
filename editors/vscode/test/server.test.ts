// The settings the extension sends, against the real spackle binary: VS Code's contributed
// defaults, all set explicitly, are accepted without a warning, and a bad value is named.
// Needs the binary: SPACKLE_BIN, or target/debug/spackle in the repository.
import assert from 'node:assert/strict';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { toSpackleSettings } from '../src/settings';

const root = path.resolve(__dirname, '..', '..');
const binary = process.env.SPACKLE_BIN ?? path.resolve(root, '..', '..', 'target', 'debug', 'spackle');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

type Message = { id?: number; method?: string; params?: any; result?: any; error?: any };

/** A minimal LSP client over stdio: Content-Length framing, requests and collected notifications. */
class Connection {
  readonly messages: Message[] = [];
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private waiters: (() => void)[] = [];

  constructor(private readonly process: ChildProcessWithoutNullStreams) {
    process.stdout.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1]);
        if (this.buffer.length < end + 4 + length) return;
        this.messages.push(JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString('utf8')));
        this.buffer = this.buffer.subarray(end + 4 + length);
        this.waiters.splice(0).forEach((wake) => wake());
      }
    });
  }

  send(message: object): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
    this.process.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.process.stdin.write(body);
  }

  async waitFor(predicate: (message: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; messages: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async request(method: string, params: unknown): Promise<Message> {
    const id = this.nextId++;
    this.send({ id, method, params });
    return this.waitFor((message) => message.id === id && message.method === undefined);
  }
}

async function withServer(initializationOptions: unknown, body: (connection: Connection) => Promise<void>): Promise<void> {
  const env = { ...process.env, SPACKLE_BACKEND: '', SPACKLE_ENDPOINT: '', SPACKLE_MODEL: '' };
  const child = spawn(binary, ['serve'], { env, stdio: 'pipe' });
  const connection = new Connection(child);
  try {
    const initialized = await connection.request('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions });
    assert.equal(initialized.result.serverInfo.name, 'spackle');
    connection.send({ method: 'initialized', params: {} });
    // The server logs "ready" after it has shown any configuration warnings.
    await connection.waitFor((message) => message.method === 'window/logMessage' && /ready/.test(message.params.message));
    await body(connection);
    await connection.request('shutdown', null);
    connection.send({ method: 'exit' });
  } finally {
    await new Promise((resolve) => {
      child.on('exit', resolve);
      setTimeout(() => child.kill(), 2000);
    });
  }
}

const available = existsSync(binary);

test('every contributed default, sent explicitly, is accepted by the server', { skip: !available && `no binary at ${binary}` }, async () => {
  const settings = toSpackleSettings((key) => manifest.contributes.configuration.properties[`spackle.${key}`].default);
  assert.ok(Object.keys(settings.model).length >= 8);
  await withServer(settings, async (connection) => {
    const warnings = connection.messages.filter((message) => message.method === 'window/showMessage');
    assert.deepEqual(warnings, [], 'no configuration warnings');
  });
});

test('a bad value changed later is named in one message', { skip: !available && `no binary at ${binary}` }, async () => {
  await withServer({}, async (connection) => {
    const settings = toSpackleSettings((key) => ({ 'model.maxTokens': 'lots', 'model.backend': 'ollama' } as Record<string, unknown>)[key]);
    connection.send({ method: 'workspace/didChangeConfiguration', params: { settings } });
    const message = await connection.waitFor((m) => m.method === 'window/showMessage');
    assert.match(message.params.message, /model\.max_tokens/);
    assert.doesNotMatch(message.params.message, /model\.backend/);
  });
});
