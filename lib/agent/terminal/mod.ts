/**
 * The user's side of the agent: the terminal (`ui.ts`: a raw-mode TTY with
 * a line editor, `line_editor.ts`, or plain piped lines), the output that
 * never makes the protocol wait (`output.ts`), what the user types as
 * commands (`commands.ts`, pure), and every text the agent shows
 * (`texts.ts`).
 *
 * @module
 */

export { type Command, HELP, parseCommand } from "./commands.ts";
export { type EditorEvent, LineEditor } from "./line_editor.ts";
export {
  ask,
  buddyText,
  problem,
  relayText,
  report,
  say,
  signUpText,
  usage,
  who,
  why,
} from "./texts.ts";
export {
  type AgentUi,
  createConsoleUi,
  PlainUi,
  type PlainUiOptions,
  type RawTerminal,
  sanitize,
  TerminalUi,
} from "./ui.ts";
