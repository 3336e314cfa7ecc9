// VS Code settings -> spackle settings: the `initializationOptions` and
// `workspace/didChangeConfiguration` payloads. No VS Code API here, so the Node test runner can test it.

/** One spackle setting: its VS Code name (under `spackle.`) and its key in spackle.toml. */
export interface SettingKey {
  vscode: string;
  spackle: string;
}

/** Every setting the extension passes to the server. The keys are spackle.toml's (src/config.rs). */
export const SETTING_KEYS: readonly SettingKey[] = [
  { vscode: 'model.backend', spackle: 'model.backend' },
  { vscode: 'model.endpoint', spackle: 'model.endpoint' },
  { vscode: 'model.name', spackle: 'model.name' },
  { vscode: 'model.apiKeyEnv', spackle: 'model.api_key_env' },
  { vscode: 'model.api', spackle: 'model.api' },
  { vscode: 'model.template', spackle: 'model.template' },
  { vscode: 'model.maxTokens', spackle: 'model.max_tokens' },
  { vscode: 'model.temperature', spackle: 'model.temperature' },
  { vscode: 'model.firstTokenTimeoutMs', spackle: 'model.first_token_timeout_ms' },
  { vscode: 'model.timeoutMs', spackle: 'model.timeout_ms' },
  { vscode: 'completion.enable', spackle: 'completion.enable' },
  { vscode: 'completion.debounceMs', spackle: 'completion.debounce_ms' },
  { vscode: 'completion.maxLines', spackle: 'completion.max_lines' },
  { vscode: 'completion.candidates', spackle: 'completion.candidates' },
  { vscode: 'completion.rounds', spackle: 'completion.rounds' },
  { vscode: 'completion.latencyBudgetMs', spackle: 'completion.latency_budget_ms' },
  { vscode: 'completion.showUnverified', spackle: 'completion.show_unverified' },
  { vscode: 'completion.maxFileBytes', spackle: 'completion.max_file_bytes' },
  { vscode: 'context.localTokens', spackle: 'context.local_tokens' },
  { vscode: 'context.repositoryTokens', spackle: 'context.repository_tokens' },
  { vscode: 'actions.docstringStyle', spackle: 'actions.docstring_style' },
  { vscode: 'actions.externalChecker', spackle: 'actions.external_checker' },
  { vscode: 'diagnostics.enable', spackle: 'diagnostics.enable' },
  { vscode: 'diagnostics.delayMs', spackle: 'diagnostics.delay_ms' },
];

/** Settings that belong to the extension itself and are never sent to the server. */
export const CLIENT_ONLY_KEYS: readonly string[] = ['path', 'trace.server', 'completion.paused'];

/** spackle's settings as nested tables, e.g. `{ model: { name: "x" } }`. */
export type SpackleSettings = { [table: string]: { [key: string]: unknown } };

/**
 * Builds the settings to send from `explicit(key)`, which returns the value the user set for
 * `spackle.<key>` (user, workspace or folder scope) or `undefined` when it is not set.
 *
 * Only settings the user set are sent: VS Code's defaults must not hide the values of a
 * `spackle.toml` in the workspace, because the server ranks editor settings above the file.
 * Empty strings mean "not set" as well (the contributed default of the string settings).
 */
export function toSpackleSettings(explicit: (key: string) => unknown): SpackleSettings {
  const settings: SpackleSettings = {};
  for (const { vscode, spackle } of SETTING_KEYS) {
    const value = explicit(vscode);
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      continue;
    }
    const [table, key] = spackle.split('.');
    settings[table] ??= {};
    settings[table][key] = value;
  }
  return settings;
}

/** A flat `{ "model.name": value }` view, for logs and the status tooltip. */
export function describeSettings(settings: SpackleSettings): string {
  const lines: string[] = [];
  for (const [table, values] of Object.entries(settings)) {
    for (const [key, value] of Object.entries(values)) {
      lines.push(`${table}.${key} = ${JSON.stringify(value)}`);
    }
  }
  return lines.length === 0 ? '(none set in VS Code; spackle.toml and the defaults apply)' : lines.join('\n');
}

/** Whether a change to `spackle.<key>` needs a restart of the server rather than a settings update. */
export function needsRestart(changed: (section: string) => boolean): boolean {
  return changed('spackle.path');
}
