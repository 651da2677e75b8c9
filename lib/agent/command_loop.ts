/**
 * The command loop: the path of a typed line from the terminal
 * (`terminal/ui.ts`, parsed by `terminal/commands.ts`) to what does it: the
 * {@linkcode Switchboard} (calls, lines, conversations, groups) or
 * {@linkcode Presence} (buddies).
 *
 * @module
 */

import { untilAborted } from "./abort.ts";
import type { Switchboard } from "./chat/switchboard.ts";
import type { PlumiClient } from "./node/client.ts";
import type { Presence } from "./node/presence.ts";
import type { PasswordSource } from "./node/registration.ts";
import { parseCommand } from "./terminal/commands.ts";
import { ask, historyText, usage } from "./terminal/texts.ts";
import type { ChatHistory } from "./history/history.ts";
import type { AgentUi } from "./terminal/ui.ts";
import type { Activity } from "./terminal/activity.ts";
import {
  type ClientContext,
  isClientCommand,
  runClientCommand,
} from "./terminal/client_commands.ts";

/** What the command loop acts on. */
export interface Loop {
  /** Calls, lines, conversations and groups. */
  readonly switchboard: Switchboard;
  /** Buddies and presence (`/add`, `/del`, `/buddies`, `/online`, `/signup`). */
  readonly presence: Presence;
  /** The PLUMI client, for `/signup`. */
  readonly client: PlumiClient;
  /** Where lines are read and everything is shown. */
  readonly ui: AgentUi;
  /** The history, for `/history` and `/search` (none: `--history` not given). */
  readonly history?: ChatHistory;
  /** The user's password, when the node asks. */
  readonly password: PasswordSource;
  /** PBKDF2 iterations of a new account's key. */
  readonly iterations: number;
  /** The terminal client's commands (`terminal/client_commands.ts`). */
  readonly clientContext: ClientContext;
  /** Waits shown on the status line. */
  readonly activity: Activity;
}

/**
 * Read typed lines until `/quit`, the end of the input, or `signal`; each
 * line is parsed into a `Command` and done before the next is read.
 * The `switch` on the command's kind is exhaustive: a new kind does not
 * compile until it is handled here.
 */
export async function commandLoop(loop: Loop, signal: AbortSignal): Promise<void> {
  const { switchboard, presence, ui } = loop;
  for (;;) {
    const line = await untilAborted(ui.readLine(), signal);
    if (line === null) return;
    const command = parseCommand(line, switchboard.talking);
    if (isClientCommand(command)) {
      await runClientCommand(command, loop.clientContext);
      continue;
    }
    const { activity } = loop;
    switch (command.kind) {
      case "quit":
        return;
      case "call":
        await activity.during(
          ask.calling(command.address),
          () => switchboard.call(command.address, signal),
        );
        break;
      case "exit":
        await switchboard.hangUp();
        break;
      case "list":
        switchboard.list();
        break;
      case "switch":
        switchboard.switchTo(command.target);
        break;
      case "close":
        await switchboard.closeTarget(command.target);
        break;
      case "group":
        switchboard.startGroup(command.name);
        break;
      case "invite":
        await activity.during(
          ask.inviting(command.address),
          () => switchboard.invite(command.address, signal),
        );
        break;
      case "leave":
        await switchboard.leave(command.target);
        break;
      case "accept":
      case "decline":
        switchboard.answerInvitation(command.kind === "accept", command.target);
        break;
      case "wait":
        await switchboard.wait(signal);
        break;
      case "buddy-add":
        await activity.during(ask.askingNode(), () => presence.add(command.address));
        break;
      case "buddy-del":
        await activity.during(ask.askingNode(), () => presence.remove(command.address));
        break;
      case "buddies":
        await activity.during(ask.askingNode(), () => presence.show());
        break;
      case "online":
        await activity.during(ask.askingNode(), () => presence.online());
        break;
      case "signup": {
        const secret = command.password ??
          (ui.interactive
            ? await untilAborted(
              (ui.askSecret ?? ui.ask).call(ui, ask.password(command.address)),
              signal,
            )
            : null);
        if (signal.aborted) return;
        if (!secret) {
          ui.warn(usage.signupPassword());
        } else {
          await activity.during(
            ask.creatingAccount(command.address),
            () => presence.signUp(loop.client, command.address, secret, loop.iterations),
          );
        }
        break;
      }
      case "trust":
        await switchboard.trust(command.address);
        break;
      case "verify":
        await switchboard.verify(command.address);
        break;
      case "help":
        for (const text of usage.help) ui.info(text);
        break;
      case "invalid":
        ui.warn(command.message);
        break;
      case "history":
        loop.history?.show(command.address, command.lines);
        if (!loop.history) ui.warn(historyText.off());
        break;
      case "search":
        loop.history?.search(command.text);
        if (!loop.history) ui.warn(historyText.off());
        break;
      case "nothing":
        break;
      default:
        command satisfies never;
    }
  }
}
