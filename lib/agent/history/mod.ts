/**
 * The agent's history: every line sent and received, kept in an SQLite file
 * of its own (`store.ts`), recorded by the switchboard and shown by
 * `/history` and `/search` (`history.ts`), never stopping a chat.
 *
 * @module
 */

export {
  ChatHistory,
  type ChatHistoryOptions,
  DEFAULT_HISTORY_LINES,
  LINES_ON_OPEN,
  MAX_HISTORY_LINES,
} from "./history.ts";
export {
  type DeliveryState,
  type Direction,
  HISTORY_APPLICATION_ID,
  type HistoryLine,
  HistoryStore,
  type HistoryStoreOptions,
  MAX_TEXT_BYTES,
} from "./store.ts";
