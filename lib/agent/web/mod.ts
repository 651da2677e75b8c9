/**
 * The agent's web page (`--web`): the event stream shared by the terminal
 * and the pages (`events.ts`, `web_ui.ts`), the server with its token
 * (`server.ts`, `guard.ts`), the side panel's state (`state.ts`) and the page
 * itself (`page/`).
 *
 * @module
 */

export { type AgentEvent, EventHub } from "./events.ts";
export { MAX_WEB_LINES, WebUi } from "./web_ui.ts";
export { WEB_LIMITS, WebServer, type WebServerOptions } from "./server.ts";
export { allowedHosts, checkRequest, isLoopback, newToken, tokenMatches } from "./guard.ts";
export { type BuddyState, type TargetState, type WebState, webState } from "./state.ts";
export { pageHtml } from "./page/page.ts";
