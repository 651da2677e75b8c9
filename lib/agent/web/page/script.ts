/**
 * The web page's script, as text (served inline, so that it ships inside a
 * compiled agent). Plain browser JavaScript: it renders the events and the
 * state the server sends and sends back what is typed or clicked, always as
 * a line the command loop runs (`/switch`, `/call`, `/accept` …). Untrusted
 * text is only ever set with `textContent`.
 *
 * @module
 */

/** The page's script. */
export const PAGE_SCRIPT = String.raw`"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const linesEl = $("lines"), targetsEl = $("targets"), buddiesEl = $("buddies");
  const invitationsEl = $("invitations"), input = $("input"), statusEl = $("status");
  const MAX_LINES = 2000;
  let socket, current, labels = [], state, retry = 500;
  /** The page shows every line (the agent's notices included), not one conversation. */
  let everything = false;
  const unread = new Map();
  const typed = [];
  let typedAt = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const pad = (n) => String(n).padStart(2, "0");
  function clock(at) {
    const d = new Date(at);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function hue(text) {
    let h = 0;
    for (const c of text) h = (h * 31 + c.codePointAt(0)) % 360;
    return h;
  }
  function send(text) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ type: "line", text }));
    return true;
  }
  // A conversation's lines, and the notices shown while it was current (as on the terminal).
  const shows = (li) =>
    everything ||
    (li.dataset.context !== undefined ? li.dataset.context === current : li.dataset.during === (current || ""));

  function addLine(ev, live) {
    const li = el("li", "line " + ev.kind);
    if (ev.context) li.dataset.context = ev.context;
    else li.dataset.during = current || "";
    const t = el("time", "", clock(ev.at));
    t.dateTime = new Date(ev.at).toISOString();
    li.append(t, " ");
    if (ev.kind === "chat" || ev.kind === "own") {
      const nick = el("span", "nick", ev.nick || "");
      if (ev.kind === "chat") nick.style.color = "hsl(" + hue(ev.address || ev.nick || "") + " 60% 42%)";
      li.append(nick, el("span", "sep", ": "));
    }
    li.append(el("span", "text", ev.text));
    if (ev.kind === "own") {
      const mark = el("span", "mark");
      mark.setAttribute("aria-label", "sent");
      mark.title = "sent";
      li.append(mark);
    }
    li.hidden = !shows(li);
    linesEl.append(li);
    while (linesEl.childElementCount > MAX_LINES) linesEl.firstElementChild.remove();
    if (ev.kind === "chat" && ev.context && ev.context !== current) {
      unread.set(ev.context, (unread.get(ev.context) || 0) + 1);
      renderTargets();
    }
    if (ev.kind === "info") answered(ev.text);
    if (live) linesEl.scrollTop = linesEl.scrollHeight;
  }

  function delivered(ev) {
    let left = ev.count;
    for (const li of linesEl.querySelectorAll("li.own")) {
      if (left <= 0) return;
      const mark = li.querySelector(".mark");
      if (li.dataset.context !== ev.context || mark.classList.contains("ok")) continue;
      mark.classList.add("ok");
      mark.textContent = "✓";
      mark.setAttribute("aria-label", "delivered");
      mark.title = "delivered";
      left--;
    }
  }

  function setTargets(now, all) {
    current = now;
    labels = all;
    if (now) unread.delete(now);
    refilter();
  }
  function refilter() {
    for (const li of linesEl.children) li.hidden = !shows(li);
    linesEl.scrollTop = linesEl.scrollHeight;
    renderTargets();
  }

  const PROTECTION = {
    verified: ["✓", "encrypted and verified"],
    encrypted: ["E", "encrypted, not verified"],
    clear: ["!", "not encrypted"],
    group: ["#", "group"],
  };

  function renderTargets() {
    const known = new Map((state ? state.targets : []).map((t) => [t.label, t]));
    targetsEl.replaceChildren();
    for (const label of labels) {
      const t = known.get(label);
      const li = el("li", "target");
      const button = el("button", "pick");
      button.type = "button";
      button.dataset.label = label;
      const [icon, words] = PROTECTION[t ? t.protection : "group"] || ["", ""];
      const iconEl = el("span", "prot " + (t ? t.protection : ""), icon);
      iconEl.setAttribute("aria-hidden", "true");
      button.append(iconEl, el("span", "label", t && t.nick ? t.nick + " " : ""),
        el("span", "where", label));
      const count = unread.get(label) || 0;
      let name = label + (t && t.nick ? " (" + t.nick + ")" : "") + ", " + words;
      if (count > 0) {
        const badge = el("span", "badge", String(count));
        badge.setAttribute("aria-hidden", "true");
        button.append(badge);
        name += ", " + count + " unread";
      }
      button.setAttribute("aria-label", name);
      if (label === current && !everything) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => {
        everything = false;
        if (label === current) refilter();
        else send("/switch " + label);
      });
      const close = el("button", "close", "×");
      close.type = "button";
      close.setAttribute("aria-label", "close " + label);
      close.addEventListener("click", () => send("/close " + label));
      li.append(button, close);
      targetsEl.append(li);
    }
    if (labels.length === 0) targetsEl.append(el("li", "empty", "No conversation yet"));
    $("everything").setAttribute("aria-pressed", String(everything));
    const cur = everything ? undefined : known.get(current);
    $("title").textContent = everything
      ? "Everything the agent said"
      : current ? (cur && cur.nick ? cur.nick + " — " : "") + current : "Agent notices";
    $("protection").textContent = cur ? cur.detail + (cur.topic ? " · topic: " + cur.topic : "") : "";
    $("protection").className = cur ? "protection " + cur.protection : "protection";
    // The history of a conversation with a known address (the agent's /history).
    $("history").hidden = !(cur && cur.address);
    $("history").dataset.address = cur && cur.address ? cur.address : "";
    let total = 0;
    for (const n of unread.values()) total += n;
    document.title = (total > 0 ? "(" + total + ") " : "") + "LUMI" + (state ? " — " + state.nick : "");
  }

  function renderState() {
    if (!state) return;
    $("me").textContent = state.nick + " · " + state.address + (state.away !== undefined ? " · away" + (state.away ? ": " + state.away : "") : "");
    buddiesEl.replaceChildren();
    for (const b of state.buddies) {
      const li = el("li", "buddy " + b.state);
      li.dataset.address = b.address;
      const dot = el("span", "dot");
      dot.setAttribute("aria-hidden", "true");
      const button = el("button", "call");
      button.type = "button";
      button.append(dot, el("span", "address", b.address), el("span", "state", b.state));
      button.setAttribute("aria-label", b.address + ", " + b.state + ": call");
      button.addEventListener("click", () => send("/call " + b.address));
      li.append(button);
      buddiesEl.append(li);
    }
    if (state.buddies.length === 0) buddiesEl.append(el("li", "empty", "No buddies (/add an address)"));
    for (const t of state.targets) answeredLabel(t.label);
    renderTargets();
  }

  function invitation(ev, live) {
    if (!live && Date.now() - ev.at > 50000) return;
    answeredLabel(ev.invitation);
    const li = el("li", "invitation");
    li.dataset.label = ev.invitation;
    li.append(el("p", "", ev.text));
    for (const [word, command] of [["Accept", "/accept "], ["Decline", "/decline "]]) {
      const b = el("button", word.toLowerCase(), word);
      b.type = "button";
      b.setAttribute("aria-label", word + " the invitation to " + ev.invitation);
      b.addEventListener("click", () => {
        if (send(command + ev.invitation)) li.remove();
      });
      li.append(b);
    }
    invitationsEl.append(li);
  }
  function answeredLabel(label) {
    for (const li of invitationsEl.querySelectorAll("li")) if (li.dataset.label === label) li.remove();
  }
  function answered(text) {
    const m = text.match(/^(?:You accepted the invitation to|You declined the invitation to|The invitation to) (\S+)/);
    if (m) answeredLabel(m[1]);
  }

  function apply(ev, live) {
    switch (ev.type) {
      case "line": addLine(ev, live); break;
      case "targets": setTargets(ev.current, ev.labels); break;
      case "identity": break;
      case "ring":
        if (ev.invitation) invitation(Object.assign({ at: Date.now() }, ev), live);
        if (live && document.hidden) document.title = "(!) " + document.title;
        break;
      case "activity": $("activity").textContent = ev.text || ""; break;
      case "delivered": delivered(ev); break;
      case "clear": linesEl.replaceChildren(); break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws?token=" + encodeURIComponent(token));
    socket.onmessage = (m) => {
      const message = JSON.parse(m.data);
      if (message.type === "hello") {
        retry = 500;
        linesEl.replaceChildren();
        invitationsEl.replaceChildren();
        unread.clear();
        state = message.state || undefined;
        for (const ev of message.backlog) apply(ev, false);
        unread.clear();
        renderState();
        renderTargets();
        linesEl.scrollTop = linesEl.scrollHeight;
        statusEl.textContent = "connected";
        statusEl.className = "status on";
      } else if (message.type === "event") {
        apply(message.event, true);
      } else if (message.type === "state") {
        state = message.state;
        renderState();
      } else if (message.type === "error") {
        addLine({ type: "line", kind: "warn", at: Date.now(), text: message.text }, true);
      }
    };
    socket.onclose = (event) => {
      statusEl.textContent = event.code === 1001
        ? "the agent has stopped: trying again…"
        : "disconnected: trying again…";
      statusEl.className = "status off";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (text === "") return;
    if (send(text)) {
      typed.push(text);
      typedAt = typed.length;
      input.value = "";
    }
  });
  input.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowUp" && typedAt > 0) {
      input.value = typed[--typedAt];
      e.preventDefault();
    } else if (e.key === "ArrowDown" && typedAt < typed.length) {
      typedAt++;
      input.value = typed[typedAt] || "";
      e.preventDefault();
    } else if (e.key === "Escape") {
      input.value = "";
    }
  });
  document.addEventListener("keydown", (e) => {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown") || labels.length < 2) return;
    const at = labels.indexOf(current);
    const next = labels[(at + (e.key === "ArrowUp" ? labels.length - 1 : 1)) % labels.length];
    send("/switch " + next);
    e.preventDefault();
  });
  $("history").addEventListener("click", () => send("/history " + $("history").dataset.address));
  $("everything").addEventListener("click", () => {
    everything = !everything;
    refilter();
  });
  $("call").addEventListener("submit", (e) => {
    e.preventDefault();
    const address = $("call-address").value.trim();
    if (address && send("/call " + address)) $("call-address").value = "";
  });
  connect();
  input.focus();
})();
`;
