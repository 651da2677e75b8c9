/**
 * The web page, built in memory: HTML with its style and script inline (one
 * request, allowed by a per-response CSP nonce), so a compiled agent carries
 * it and nothing is fetched from elsewhere.
 *
 * @module
 */

import { PAGE_SCRIPT } from "./script.ts";
import { PAGE_STYLE } from "./style.ts";

/** The page, with `nonce` on its inline style and script. */
export function pageHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>LUMI</title>
<style nonce="${nonce}">${PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>LUMI</h1>
  <span id="me"></span>
  <span id="status" class="status" role="status">connecting…</span>
</header>
<div class="app">
  <nav aria-label="Conversations, buddies and invitations">
    <button id="everything" type="button" aria-pressed="false">Everything the agent said</button>
    <h2 id="targets-heading">Conversations</h2>
    <ul id="targets" aria-labelledby="targets-heading"></ul>
    <form id="call" class="row" aria-label="Start a conversation">
      <label for="call-address" class="visually-hidden">Address to call</label>
      <input id="call-address" placeholder="name@domain" autocomplete="off" spellcheck="false">
      <button type="submit">Call</button>
    </form>
    <h2 id="invitations-heading">Invitations</h2>
    <ul id="invitations" aria-labelledby="invitations-heading" aria-live="assertive"></ul>
    <h2 id="buddies-heading">Buddies</h2>
    <ul id="buddies" aria-labelledby="buddies-heading"></ul>
  </nav>
  <main>
    <div class="heading">
      <h2 id="title">No conversation</h2>
      <p id="protection" class="protection"></p>
      <button id="history" type="button" hidden>Earlier lines</button>
    </div>
    <ol id="lines" role="log" aria-live="polite" aria-label="Messages"></ol>
    <p id="activity" aria-live="polite"></p>
    <form id="send" class="row">
      <label for="input" class="visually-hidden">Message, or a /command</label>
      <input id="input" placeholder="Type a message, or /help" autocomplete="off">
      <button type="submit">Send</button>
    </form>
  </main>
</div>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
