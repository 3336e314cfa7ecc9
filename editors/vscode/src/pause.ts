// Whether the extension asks the server for inline completions. No VS Code API here, so the Node
// test runner can test it.

/** The settings and the request that decide whether to ask. */
export interface AskInputs {
  /** `spackle.completion.enable`: off means no suggestions at all (the server would answer none). */
  enabled: boolean;
  /** `spackle.completion.paused`: automatic suggestions are paused; asking explicitly still works. */
  paused: boolean;
  /** Whether the user asked explicitly (Alt+\, spackle: Fill the hole at the cursor). */
  invoked: boolean;
}

/** Whether to send `textDocument/inlineCompletion` to the server at all. */
export function shouldAsk({ enabled, paused, invoked }: AskInputs): boolean {
  if (!enabled) {
    return false;
  }
  return invoked || !paused;
}
