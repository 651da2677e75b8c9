/**
 * The history's delivery mark, as the offline messages use it: a receipt
 * that arrives marks the line delivered with `ChatHistory.markDelivered(id)`
 * (message ids are 16 lowercase hex digits). A local shim: a history without
 * that method (a branch where it has not landed yet) is simply not marked.
 *
 * @module
 */

/** What the mailbox needs of the history: a line kept, and the mark of a delivered one. */
export interface DeliveryLog {
  /** Keep a line sent to (`out`) or received from (`in`) `peer`. */
  record(peer: string, direction: "in" | "out", text: string): void;
  /** `ChatHistory.markDelivered`, when the history has it. */
  readonly markDelivered?: (messageId: string) => void;
}

/** Mark message `id` delivered in `history`, if it can; never throws. */
export function markDelivered(history: DeliveryLog | undefined, id: string): void {
  try {
    history?.markDelivered?.(id);
  } catch {
    // the history never stops a chat
  }
}
