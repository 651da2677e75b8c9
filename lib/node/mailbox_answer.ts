/**
 * What `extended.ts` needs of the offline messages: the service's type, and
 * the answer of a node that keeps none (`e=off`).
 *
 * @module
 */

import type { ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import { DepositExt, FetchExt, KeyExt } from "../plumi/extensions/mod.ts";

export type { MailboxService } from "./mailbox.ts";

/** The answer to `PM`, `PF` or `PW` of a node without offline messages (no database, or off). */
export function mailboxOff(message: ExtensionRequest): PlumiMessage | undefined {
  switch (message.type) {
    case "M":
      return DepositExt.encodeReply({ kind: "refused", error: "off" });
    case "F":
      return FetchExt.encodeReply({ kind: "refused", error: "off" });
    case "W":
      return KeyExt.encodeReply({ kind: "refused", error: "off" });
    default:
      return undefined;
  }
}
