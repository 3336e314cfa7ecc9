// What the status bar item says. No VS Code API here, so the Node test runner can test it.

export type Status =
  | { kind: 'starting' }
  | { kind: 'missing'; message: string }
  | { kind: 'idle'; version?: string; model?: string }
  | { kind: 'disabled' }
  | { kind: 'paused' }
  | { kind: 'waiting' }
  | { kind: 'indexing'; message?: string; percentage?: number }
  | { kind: 'error'; message: string }
  | { kind: 'stopped' };

export interface StatusView {
  /** The item's text, with codicons. */
  text: string;
  tooltip: string;
  /** Whether the item shows the error or warning background. */
  severity: 'normal' | 'warning' | 'error';
}

/** Cuts `text` to `length` characters, with an ellipsis. */
function cut(text: string, length: number): string {
  const line = text.split('\n')[0];
  return line.length <= length ? line : `${line.slice(0, length - 1)}…`;
}

/** The message without the `spackle: ` prefix the server puts on it. */
export function stripPrefix(message: string): string {
  return message.replace(/^spackle:\s*/, '');
}

export function statusView(status: Status, lastAccepted?: string): StatusView {
  const accepted = lastAccepted ? `\nLast accepted suggestion: ${lastAccepted}` : '';
  switch (status.kind) {
    case 'starting':
      return { text: '$(loading~spin) spackle', tooltip: 'spackle: starting the server', severity: 'normal' };
    case 'missing':
      return { text: '$(error) spackle', tooltip: `${status.message}\nClick for help.`, severity: 'error' };
    case 'idle': {
      const version = status.version ? ` ${status.version}` : '';
      const model = status.model ? `\n${status.model}` : '';
      return { text: '$(check) spackle', tooltip: `spackle${version}: ready${model}${accepted}\nClick for actions.`, severity: 'normal' };
    }
    case 'disabled':
      return { text: '$(circle-slash) spackle', tooltip: 'spackle: suggestions are off (click to turn them on)', severity: 'normal' };
    case 'paused':
      return {
        text: '$(debug-pause) spackle',
        tooltip: 'spackle: automatic suggestions are paused; Alt+\\ still asks (click to resume)',
        severity: 'normal',
      };
    case 'waiting':
      return { text: '$(loading~spin) spackle', tooltip: 'spackle: waiting for the model', severity: 'normal' };
    case 'indexing': {
      const percent = status.percentage !== undefined ? ` ${Math.round(status.percentage)}%` : '';
      const message = status.message ? `: ${status.message}` : '';
      return { text: `$(sync~spin) spackle${percent}`, tooltip: `spackle: indexing${message}${percent}`, severity: 'normal' };
    }
    case 'error': {
      const message = stripPrefix(status.message);
      return {
        text: '$(warning) spackle',
        tooltip: `spackle: ${cut(message, 200)}${accepted}\nClick for details and spackle doctor.`,
        severity: 'warning',
      };
    }
    case 'stopped':
      return { text: '$(debug-stop) spackle', tooltip: 'spackle: the server stopped (click to restart)', severity: 'error' };
  }
}

/** The short description of a verification the server attached to an accepted suggestion. */
export function describeVerification(title: string | undefined, argument: unknown): string {
  if (title) {
    return stripPrefix(title);
  }
  if (argument && typeof argument === 'object') {
    const value = argument as { rounds?: number; checks?: string[] };
    const checks = (value.checks ?? []).join(', ');
    return `checked (${checks}) in ${value.rounds ?? '?'} round${value.rounds === 1 ? '' : 's'}`;
  }
  return 'accepted';
}

/** Whether a progress title from the server means indexing. */
export function isIndexing(title: string | undefined): boolean {
  return title !== undefined && /index/i.test(title);
}
