// The VS Code side of spackle: starts `spackle serve`, lets vscode-languageclient register inline
// completions for Python, and adds the commands, the settings bridge and the status bar item.
// The logic that needs no VS Code API lives in settings.ts, binary.ts, pause.ts and status.ts
// (unit-tested). Partial accept (next word, next line) is VS Code's own, on spackle's items.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  LogMessageNotification,
  MessageType,
  ServerOptions,
  ShowMessageNotification,
  State,
  TransportKind,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';

import { findBinary } from './binary';
import { parseLogLine } from './logs';
import { shouldAsk } from './pause';
import { SETTING_KEYS, describeSettings, needsRestart, toSpackleSettings } from './settings';
import { Status, describeVerification, isIndexing, statusView, stripPrefix } from './status';

const SERVER_COMMANDS = { docstring: 'spackle.generateDocstring', comment: 'spackle.comment' };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function workspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** The settings the user set explicitly for spackle (any scope but the language-specific ones). */
function currentSettings() {
  const config = vscode.workspace.getConfiguration('spackle');
  return toSpackleSettings((key) => {
    const inspected = config.inspect(key);
    return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  });
}

class Spackle implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private binary: string | undefined;
  private status: Status = { kind: 'starting' };
  private lastError: string | undefined;
  private lastAccepted: string | undefined;
  private readonly item: vscode.StatusBarItem;
  private readonly output: vscode.LogOutputChannel;
  private readonly doctorOutput: vscode.OutputChannel;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('spackle', { log: true });
    this.doctorOutput = vscode.window.createOutputChannel('spackle doctor');
    this.item = vscode.window.createStatusBarItem('spackle.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'spackle';
    this.item.command = 'spackle.showStatus';
    this.item.show();
    this.render();
  }

  dispose(): void {
    void this.stop();
    this.item.dispose();
    this.output.dispose();
    this.doctorOutput.dispose();
  }

  private setStatus(status: Status): void {
    this.status = status;
    this.render();
  }

  private render(): void {
    const view = statusView(this.status, this.lastAccepted);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.severity === 'normal' ? undefined : new vscode.ThemeColor(`statusBarItem.${view.severity}Background`);
  }

  private readyStatus(): Status {
    const config = vscode.workspace.getConfiguration('spackle');
    if (!config.get<boolean>('completion.enable', true)) {
      return { kind: 'disabled' };
    }
    if (config.get<boolean>('completion.paused', false)) {
      return { kind: 'paused' };
    }
    const info = this.client?.initializeResult?.serverInfo;
    return { kind: 'idle', version: info?.version };
  }

  async start(): Promise<void> {
    const configured = vscode.workspace.getConfiguration('spackle').get<string>('path');
    const found = findBinary(
      configured,
      { pathVariable: process.env.PATH, home: os.homedir(), platform: process.platform, isExecutable },
      workspaceFolder(),
    );
    if (!found.ok) {
      this.binary = undefined;
      this.setStatus({ kind: 'missing', message: found.message });
      const choice = await vscode.window.showErrorMessage(found.message, 'Open the README', 'Set spackle.path');
      if (choice === 'Open the README') {
        await this.openReadme();
      } else if (choice === 'Set spackle.path') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'spackle.path');
      }
      return;
    }
    this.binary = found.path;
    this.setStatus({ kind: 'starting' });
    this.output.info(`starting ${found.path} serve (found via ${found.how})`);
    this.output.info(`settings from VS Code:\n${describeSettings(currentSettings())}`);

    const serverOptions: ServerOptions = { command: found.path, args: ['serve'], transport: TransportKind.stdio };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { language: 'python', scheme: 'file' },
        { language: 'python', scheme: 'untitled' },
      ],
      initializationOptions: currentSettings(),
      outputChannel: this.output,
      // spackle logs on stderr with its own levels; the default would tag every line [error].
      stdioOptions: {
        stdout: (input, channel) => readline.createInterface({ input, crlfDelay: Infinity }).on('line', (line) => channel.info(line)),
        stderr: (input, channel) =>
          readline.createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
            const { level, message } = parseLogLine(line);
            channel[level](message);
          }),
      },
      middleware: {
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          const config = vscode.workspace.getConfiguration('spackle');
          const ask = shouldAsk({
            enabled: config.get<boolean>('completion.enable', true),
            paused: config.get<boolean>('completion.paused', false),
            invoked: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke,
          });
          if (!ask) {
            return undefined;
          }
          this.setStatus({ kind: 'waiting' });
          try {
            const result = await next(document, position, context, token);
            const items = Array.isArray(result) ? result : result?.items;
            if (items && items.length > 0) {
              this.lastError = undefined;
            }
            return result;
          } finally {
            if (this.status.kind === 'waiting') {
              this.setStatus(this.lastError ? { kind: 'error', message: this.lastError } : this.readyStatus());
            }
          }
        },
      },
    };
    const client = new LanguageClient('spackle', 'spackle', serverOptions, clientOptions);
    this.client = client;

    // The server shows a failure once and logs it after that; both land in the status bar.
    client.onNotification(ShowMessageNotification.type, (message) => {
      if (message.type === MessageType.Error || message.type === MessageType.Warning) {
        this.lastError = message.message;
        this.setStatus({ kind: 'error', message: message.message });
        void this.showFailure(message.message, message.type === MessageType.Error);
      } else {
        void vscode.window.showInformationMessage(message.message);
      }
    });
    client.onNotification(LogMessageNotification.type, (message) => {
      switch (message.type) {
        case MessageType.Error:
          this.output.error(message.message);
          break;
        case MessageType.Warning:
          this.output.warn(message.message);
          break;
        case MessageType.Debug:
          this.output.debug(message.message);
          break;
        default:
          this.output.info(message.message);
      }
      if (message.type === MessageType.Error || message.type === MessageType.Warning) {
        this.lastError = message.message;
        this.setStatus({ kind: 'error', message: message.message });
      }
    });
    // Progress the server starts itself (indexing) shows in the status bar.
    client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const disposable = client.onProgress(WorkDoneProgress.type, token, (value) => {
        if (value.kind === 'begin' && !isIndexing(value.title)) {
          return;
        }
        if (value.kind === 'end') {
          disposable.dispose();
          this.setStatus(this.lastError ? { kind: 'error', message: this.lastError } : this.readyStatus());
          return;
        }
        this.setStatus({ kind: 'indexing', message: value.message, percentage: value.percentage });
      });
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.setStatus({ kind: 'stopped' });
      }
    });

    try {
      await client.start();
      this.setStatus(this.readyStatus());
    } catch (error) {
      const message = `spackle: the server did not start: ${error instanceof Error ? error.message : String(error)}`;
      this.lastError = message;
      this.setStatus({ kind: 'error', message });
      void this.showFailure(message, true);
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) {
      await client.stop();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    this.lastError = undefined;
    await this.start();
  }

  /** Sends the settings again after the user changed them. */
  async settingsChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!event.affectsConfiguration('spackle')) {
      return;
    }
    if (needsRestart((section) => event.affectsConfiguration(section)) || !this.client) {
      await this.restart();
      return;
    }
    // Pausing is the extension's own business: the server hears nothing of it.
    if (!SETTING_KEYS.some((key) => event.affectsConfiguration(`spackle.${key.vscode}`))) {
      if (this.status.kind === 'idle' || this.status.kind === 'paused' || this.status.kind === 'disabled') {
        this.setStatus(this.readyStatus());
      }
      return;
    }
    const settings = currentSettings();
    this.output.info(`settings from VS Code changed:\n${describeSettings(settings)}`);
    this.lastError = undefined;
    await this.client.sendNotification(DidChangeConfigurationNotification.type, { settings });
    this.setStatus(this.readyStatus());
  }

  private async showFailure(message: string, isError: boolean): Promise<void> {
    const show = isError ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    const choice = await show(message, 'Run spackle doctor', 'Show the log');
    if (choice === 'Run spackle doctor') {
      await this.doctor();
    } else if (choice === 'Show the log') {
      this.output.show(true);
    }
  }

  private async openReadme(): Promise<void> {
    const readme = vscode.Uri.joinPath(this.context.extensionUri, 'README.md');
    await vscode.commands.executeCommand('markdown.showPreview', readme);
  }

  /** Runs `spackle doctor` for the workspace and shows its report. */
  async doctor(): Promise<void> {
    if (!this.binary) {
      await this.start();
      if (!this.binary) {
        return;
      }
    }
    const folder = workspaceFolder() ?? os.homedir();
    this.doctorOutput.clear();
    this.doctorOutput.appendLine(`$ ${this.binary} doctor ${folder}`);
    this.doctorOutput.show(true);
    await new Promise<void>((resolve) => {
      execFile(this.binary!, ['doctor', folder], { timeout: 30_000 }, (error, stdout, stderr) => {
        this.doctorOutput.append(stdout);
        if (stderr) {
          this.doctorOutput.append(stderr);
        }
        if (error && typeof error.code === 'number') {
          this.doctorOutput.appendLine(`(exit ${error.code}${error.code === 3 ? ': the model server does not answer' : ''})`);
        } else if (error) {
          this.doctorOutput.appendLine(`(failed: ${error.message})`);
        }
        resolve();
      });
    });
  }

  /** The text-document position of the active Python editor, in the protocol's terms. */
  private cursor(): { client: LanguageClient; params: { textDocument: { uri: string }; position: { line: number; character: number } } } | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python') {
      void vscode.window.showWarningMessage('spackle: open a Python file first.');
      return undefined;
    }
    if (!this.client || !this.client.isRunning()) {
      void vscode.window.showWarningMessage('spackle: the server is not running (spackle: Show the status).');
      return undefined;
    }
    const converter = this.client.code2ProtocolConverter;
    return {
      client: this.client,
      params: {
        textDocument: { uri: converter.asUri(editor.document.uri) },
        position: converter.asPosition(editor.selection.active),
      },
    };
  }

  /** Runs one of the server's commands at the cursor; the server applies its edit with workspace/applyEdit. */
  async runServerCommand(command: string): Promise<void> {
    const at = this.cursor();
    if (!at) {
      return;
    }
    const offered = at.client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    if (!offered.includes(command)) {
      void vscode.window.showWarningMessage(`spackle: this spackle server does not offer \`${command}\` yet (update spackle).`);
      return;
    }
    try {
      await at.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [at.params] });
    } catch (error) {
      void vscode.window.showWarningMessage(`spackle: ${command} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Shows what would be sent to the model for the cursor (`spackle/context`). */
  async showContext(): Promise<void> {
    const at = this.cursor();
    if (!at) {
      return;
    }
    try {
      const result = await at.client.sendRequest<{ version: number; parts: { name: string; why: string; text: string }[] }>(
        'spackle/context',
        at.params,
      );
      const sections = result.parts.map((part) => `## ${part.name}\n\n_${part.why}_\n\n\`\`\`python\n${part.text}\n\`\`\``);
      const content = `# What spackle would send (document version ${result.version})\n\n${sections.join('\n\n')}\n`;
      const document = await vscode.workspace.openTextDocument({ language: 'markdown', content });
      await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    } catch (error) {
      void vscode.window.showWarningMessage(`spackle: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  accepted(argument: unknown): void {
    this.lastAccepted = describeVerification(undefined, argument);
    this.render();
  }

  showLog(): void {
    this.output.show(true);
  }

  /**
   * Pauses or resumes automatic suggestions (`spackle.completion.paused`), as `:SpackleToggle` does
   * in Neovim; Alt+\ still asks. When suggestions are turned off (`spackle.completion.enable`),
   * turns them on again instead, unpaused.
   */
  async toggle(): Promise<void> {
    const config = vscode.workspace.getConfiguration('spackle');
    if (!config.get<boolean>('completion.enable', true)) {
      await config.update('completion.enable', true, vscode.ConfigurationTarget.Global);
      await this.setPaused(false);
      return;
    }
    await this.setPaused(!config.get<boolean>('completion.paused', false));
  }

  async setPaused(paused: boolean): Promise<void> {
    const config = vscode.workspace.getConfiguration('spackle');
    if (config.get<boolean>('completion.paused', false) !== paused) {
      await config.update('completion.paused', paused, vscode.ConfigurationTarget.Global);
    }
    this.setStatus(this.readyStatus());
    void vscode.window.setStatusBarMessage(`spackle: automatic suggestions ${paused ? 'paused' : 'on'}`, 3000);
  }

  async showStatus(): Promise<void> {
    if (this.status.kind === 'missing') {
      await this.start();
      return;
    }
    const config = vscode.workspace.getConfiguration('spackle');
    const enabled = config.get<boolean>('completion.enable', true);
    const paused = config.get<boolean>('completion.paused', false);
    const actions: { label: string; run: () => unknown }[] = [];
    if (this.lastError) {
      const message = stripPrefix(this.lastError);
      actions.push({ label: `$(warning) ${message}`, run: () => vscode.window.showWarningMessage(message, { modal: true }) });
    }
    actions.push(
      { label: '$(pulse) Run spackle doctor', run: () => this.doctor() },
      { label: '$(output) Show the log', run: () => this.showLog() },
      { label: '$(debug-restart) Restart the server', run: () => this.restart() },
      !enabled
        ? { label: '$(check) Turn suggestions on', run: () => this.toggle() }
        : paused
          ? { label: '$(debug-start) Resume automatic suggestions', run: () => this.setPaused(false) }
          : { label: '$(debug-pause) Pause automatic suggestions', run: () => this.setPaused(true) },
      { label: '$(gear) Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'spackle') },
    );
    const picked = await vscode.window.showQuickPick(actions, { title: statusView(this.status, this.lastAccepted).tooltip.split('\n')[0] });
    await picked?.run();
  }
}

let spackle: Spackle | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  spackle = new Spackle(context);
  const instance = spackle;
  const register = (name: string, run: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(name, run));
  register('spackle.fillHole', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger'));
  register('spackle.writeDocstring', () => instance.runServerCommand(SERVER_COMMANDS.docstring));
  register('spackle.writeComment', () => instance.runServerCommand(SERVER_COMMANDS.comment));
  register('spackle.showContext', () => instance.showContext());
  register('spackle.restart', () => instance.restart());
  register('spackle.showLog', () => instance.showLog());
  register('spackle.toggle', () => instance.toggle());
  register('spackle.pause', () => instance.setPaused(true));
  register('spackle.resume', () => instance.setPaused(false));
  register('spackle.doctor', () => instance.doctor());
  register('spackle.showStatus', () => instance.showStatus());
  // Run by VS Code when the user accepts a suggestion; the argument says what spackle verified.
  register('spackle.accepted', (argument) => instance.accepted(argument));
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => instance.settingsChanged(event)));
  context.subscriptions.push(instance);
  await instance.start();
}

export async function deactivate(): Promise<void> {
  await spackle?.stop();
  spackle = undefined;
}
