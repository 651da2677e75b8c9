/**
 * The history as the offline messages use it: each line kept with its
 * message id (16 lowercase hex digits), and a receipt that arrives marks
 * the line delivered with `ChatHistory.markDelivered(id)`. Never throws:
 * the history never stops a chat.
 *
 * @module
 */

/** What the mailbox needs of the history: a line kept, and the mark of a delivered one. */
export interface DeliveryLog {
  /** Keep a line sent to (`out`) or received from (`in`) `peer`, with its message id. */
  record(peer: string, direction: "in" | "out", text: string, messageId?: string): void;
  /** Mark the line of `messageId` delivered. */
  markDelivered(messageId: string): void;
}

/** Mark message `id` delivered in `history`, if it can; never throws. */
export function markDelivered(history: DeliveryLog | undefined, id: string): void {
  try {
    history?.markDelivered(id);
  } catch {
    // the history never stops a chat
  }
}
