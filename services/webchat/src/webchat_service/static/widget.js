/*
 * Customer Agent webchat widget: a chat bubble that opens a panel talking to webchat's WebSocket.
 *
 *   <script src="https://chat.example/widget.js" data-account="acme" data-channel="website" defer></script>
 *
 * Optional: data-server="https://chat.example" (default: where this script came from),
 * data-title="Chat with us". Its looks come from <server>/widget.css (no inline style, so a page with a
 * strict Content-Security-Policy only lists the server in script-src, style-src and connect-src).
 * Everything shown from the server is inserted as text, never as HTML. The thread and its transcript are
 * kept in the tab's sessionStorage, so a reload shows the conversation and resumes its thread.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) { return; }
  var account = script.getAttribute("data-account") || "";
  var channel = script.getAttribute("data-channel") || "";
  var server = script.getAttribute("data-server") || new URL(script.src, window.location.href).origin;
  var title = script.getAttribute("data-title") || "Chat with us";
  var storageKey = "customer-agent-webchat:" + account + "/" + channel;
  var THREAD = "", LOG = ":log", OPEN = ":open"; // what is kept under storageKey + each
  // Closed by the server or the network, not for something the visitor sent: worth reconnecting at once.
  var reconnectCodes = { 1006: true, 1011: true, 1012: true, 1013: true };
  var shownReasons = { 1007: true, 1008: true, 1009: true, 1011: true, 1013: true };
  var MAX_LOG_ENTRIES = 100;
  var MAX_LOG_CHARS = 200000; // the host page's sessionStorage is shared with it: take little of it

  var socket = null;
  var pending = [];
  var retries = 0;
  var retryTimer = null;
  var bubble, panel, list, input, form, badge, status;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // sessionStorage may be unavailable (a sandboxed frame, storage turned off): the chat works without it.
  function stored(name) {
    try { return sessionStorage.getItem(storageKey + name); } catch (e) { return null; }
  }

  function store(name, value) {
    try {
      if (value === null) { sessionStorage.removeItem(storageKey + name); } else { sessionStorage.setItem(storageKey + name, value); }
    } catch (e) { /* full or unavailable: the transcript is not kept, the chat goes on */ }
  }

  function readLog() {
    try {
      var log = JSON.parse(stored(LOG) || "[]");
      return Array.isArray(log) ? log : [];
    } catch (e) { return []; }
  }

  // The transcript this tab keeps, and each entry's length as JSON: read from storage once, at the start.
  var log = [], logSizes = [], logChars = 2;

  function keep(entry) {
    var size = JSON.stringify(entry).length + 1;
    log.push(entry);
    logSizes.push(size);
    logChars += size;
    while (log.length > 1 && (log.length > MAX_LOG_ENTRIES || logChars > MAX_LOG_CHARS)) {
      log.shift();
      logChars -= logSizes.shift();
    }
  }

  function forget() {
    log = [];
    logSizes = [];
    logChars = 2;
    store(LOG, null);
  }

  function remember(entry) {
    keep(entry);
    store(LOG, JSON.stringify(log));
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function notice(text) {
    list.appendChild(el("div", "ca-webchat-notice", text));
    scrollDown();
  }

  function citationItem(citation) {
    var item = el("li");
    var url = typeof citation.url === "string" ? citation.url : "";
    var label = citation.title || url;
    if (/^https?:\/\//i.test(url)) {
      var link = el("a", "ca-webchat-citation", label);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      item.appendChild(link);
    } else {
      // An uploaded file's name: it has no address of its own.
      item.appendChild(el("span", "ca-webchat-citation", label));
    }
    return item;
  }

  function showVisitor(text) {
    var line = el("div", "ca-webchat-message ca-webchat-visitor");
    line.appendChild(el("span", "ca-webchat-sr", "You: "));
    line.appendChild(document.createTextNode(String(text)));
    list.appendChild(line);
    scrollDown();
  }

  function showReply(frame) {
    var reply = el("div", "ca-webchat-message ca-webchat-reply");
    reply.setAttribute("data-kind", String(frame.kind || ""));
    reply.setAttribute("lang", String(frame.language || ""));
    var author = frame.author && frame.author.name ? frame.author.name : "";
    if (author) { reply.appendChild(el("span", "ca-webchat-author", author)); }
    reply.appendChild(el("span", "ca-webchat-text", frame.text));
    var citations = Array.isArray(frame.citations) ? frame.citations : [];
    if (citations.length) {
      var ul = el("ul", "ca-webchat-citations");
      citations.forEach(function (c) { ul.appendChild(citationItem(c || {})); });
      reply.appendChild(ul);
    }
    badge.textContent = frame.powered_by_ai ? "Powered by AI" : "";
    list.appendChild(reply);
    scrollDown();
  }

  function assigneeName(assignee) {
    if (!assignee || assignee.kind === "unassigned" || !assignee.id) { return null; }
    return assignee.kind === "team" ? "Team " + assignee.id : String(assignee.id);
  }

  function showHandoff(assignee) {
    badge.textContent = "";
    var name = assigneeName(assignee);
    var text = name ? name + " took over" : "Handed to our team";
    list.appendChild(el("div", "ca-webchat-notice ca-webchat-handoff", text));
    scrollDown();
  }

  function show(entry) {
    if (!entry || typeof entry !== "object") { return; }
    if (entry.type === "visitor") { showVisitor(entry.text); }
    else if (entry.type === "message") { showReply(entry); }
    else if (entry.type === "handoff") { showHandoff(entry.assignee); }
  }

  function startThread(threadId) {
    var previous = stored(THREAD);
    if (previous && previous !== threadId) {
      // The old thread expired on the server: its transcript no longer belongs to this chat.
      forget();
      list.replaceChildren();
      notice("A new conversation started.");
      pending.forEach(function (body) {
        var entry = { type: "visitor", text: JSON.parse(body).text };
        remember(entry);
        show(entry);
      });
    }
    store(THREAD, threadId);
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") { return; }
    if (frame.type === "session") {
      startThread(String(frame.thread_id));
      panel.setAttribute("data-thread-id", String(frame.thread_id));
      panel.setAttribute("data-state", "open");
      setStatus("");
      retries = 0;
      while (pending.length && socket.readyState === WebSocket.OPEN) { socket.send(pending.shift()); }
    } else if (frame.type === "message" || frame.type === "handoff") {
      remember(frame);
      show(frame);
    }
  }

  function isOpen() { return !panel.hidden; }

  function scheduleReconnect() {
    retries += 1;
    var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(retries, 5)));
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, delay * (0.75 + Math.random() / 2));
  }

  function onClose(event) {
    socket = null;
    panel.setAttribute("data-state", "closed");
    if (shownReasons[event.code]) { notice(event.reason || "The chat was closed."); }
    if (reconnectCodes[event.code] && isOpen()) {
      setStatus("Connection lost; reconnecting…");
      scheduleReconnect();
    } else {
      setStatus("Disconnected: your next message reconnects.");
    }
  }

  function connect() {
    if (socket || retryTimer) { return; }
    var url = new URL("/v1/webchat/" + encodeURIComponent(account) + "/" + encodeURIComponent(channel), server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var thread = stored(THREAD);
    if (thread) { url.searchParams.set("thread_id", thread); }
    panel.setAttribute("data-state", "connecting");
    if (!retries) { setStatus("Connecting…"); }
    socket = new WebSocket(url.toString());
    socket.addEventListener("message", onFrame);
    socket.addEventListener("close", onClose);
  }

  function send(text) {
    var frame = { type: "message", text: text };
    if (navigator.language) { frame.locale = navigator.language; }
    var body = JSON.stringify(frame);
    var entry = { type: "visitor", text: text };
    remember(entry);
    show(entry);
    if (socket && socket.readyState === WebSocket.OPEN && panel.getAttribute("data-state") === "open") {
      socket.send(body);
      return;
    }
    pending.push(body);
    if (retryTimer) { // the visitor is here now: try at once rather than after the back-off
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    connect();
  }

  // A speech bubble drawn as SVG: an emoji needs a colour-emoji font, and without one it shows as a box.
  function bubbleIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  function setOpen(open, focus) {
    panel.hidden = !open;
    bubble.setAttribute("aria-expanded", open ? "true" : "false");
    store(OPEN, open ? "1" : null);
    if (open) {
      connect();
      if (focus) { input.focus(); }
    }
  }

  function stylesheet(then) {
    var href = new URL("/widget.css", server).toString();
    var link = document.querySelector('link[data-ca-webchat="style"]');
    if (link) { then(); return; }
    link = el("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-ca-webchat", "style");
    // The bubble appears once styled (or once the sheet failed: plain, but usable).
    link.addEventListener("load", then);
    link.addEventListener("error", then);
    document.head.appendChild(link);
  }

  function buildPanel() {
    panel = el("section", "ca-webchat-panel");
    panel.id = "ca-webchat-panel";
    panel.hidden = true;
    panel.setAttribute("aria-label", title);
    panel.setAttribute("data-state", "closed");
    var header = el("div", "ca-webchat-header");
    header.appendChild(el("h2", "ca-webchat-title", title));
    badge = el("span", "ca-webchat-ai", "");
    header.appendChild(badge);
    status = el("div", "ca-webchat-status");
    status.setAttribute("role", "status");
    status.hidden = true;
    list = el("div", "ca-webchat-list");
    list.setAttribute("role", "log");
    list.setAttribute("aria-live", "polite");
    list.setAttribute("aria-label", "Conversation");
    form = el("form", "ca-webchat-form");
    input = el("input", "ca-webchat-input");
    input.type = "text";
    input.maxLength = 2000;
    input.placeholder = "Write a message";
    input.setAttribute("aria-label", "Message");
    var sendButton = el("button", "ca-webchat-send", "Send");
    sendButton.type = "submit";
    form.appendChild(input);
    form.appendChild(sendButton);
    panel.appendChild(header);
    panel.appendChild(status);
    panel.appendChild(list);
    panel.appendChild(form);
  }

  function build() {
    buildPanel();
    bubble = el("button", "ca-webchat-bubble");
    bubble.appendChild(bubbleIcon());
    bubble.type = "button";
    bubble.setAttribute("aria-label", title);
    bubble.setAttribute("aria-controls", panel.id);
    bubble.setAttribute("aria-expanded", "false");
    // The conversation so far, as this tab saw it before a reload.
    readLog().forEach(function (entry) { keep(entry); show(entry); });
    bubble.addEventListener("click", function () { setOpen(!isOpen(), true); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        setOpen(false, false);
        bubble.focus();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      send(text);
    });
    stylesheet(function () {
      if (bubble.isConnected) { return; }
      document.body.appendChild(panel);
      document.body.appendChild(bubble);
      // Open before a reload: open again (without taking the page's focus) and resume the thread.
      if (stored(OPEN)) { setOpen(true, false); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", build);
  } else {
    build();
  }
})();
