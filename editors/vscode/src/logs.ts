// Which level a line of `spackle serve`'s stderr has. spackle logs with tracing's plain format,
// `2025-01-01T00:00:00.000000Z  INFO spackle::lsp: message`; anything else (a panic, say) is an error.
// No VS Code API here, so the Node test runner can test it.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<string, LogLevel> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The level of one stderr line and the message without tracing's timestamp and level. */
export function parseLogLine(line: string): { level: LogLevel; message: string } {
  const match = /^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$/.exec(line);
  if (!match) {
    return { level: 'error', message: line };
  }
  return { level: LEVELS[match[1]], message: match[2] };
}
