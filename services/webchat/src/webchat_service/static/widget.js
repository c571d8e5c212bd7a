/*
 * Customer Agent webchat widget: a chat bubble that opens a panel talking to webchat's WebSocket.
 *
 *   <script src="https://chat.example/widget.js" data-account="acme" data-channel="website" defer></script>
 *
 * Optional: data-server="https://chat.example" (default: where this script came from),
 * data-title="Chat with us". Everything shown from the server is inserted as text, never as HTML.
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
  var reconnectCodes = { 1001: true, 1006: true, 1011: true, 1012: true, 1013: true };

  var socket = null;
  var pending = [];
  var retries = 0;
  var panel, list, input, form, badge;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function style() {
    var css = el("style");
    css.textContent = [
      ".ca-webchat-bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;",
      "border:0;background:#2d5bd7;color:#fff;display:flex;align-items:center;justify-content:center;cursor:pointer;box-shadow:0 2px 8px #0004;z-index:2147483000}",
      ".ca-webchat-panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;max-height:calc(100vh - 108px);",
      "display:none;flex-direction:column;background:#fff;border-radius:10px;box-shadow:0 4px 18px #0005;",
      "font:14px/1.4 system-ui,sans-serif;color:#222;z-index:2147483000;overflow:hidden}",
      ".ca-webchat-panel.ca-open{display:flex}",
      ".ca-webchat-header{background:#2d5bd7;color:#fff;padding:10px 12px;font-weight:600;display:flex;justify-content:space-between}",
      ".ca-webchat-ai{font-weight:400;font-size:12px;opacity:.85}",
      ".ca-webchat-list{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:8px}",
      ".ca-webchat-message{padding:8px 10px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}",
      ".ca-webchat-visitor{align-self:flex-end;background:#2d5bd7;color:#fff}",
      ".ca-webchat-reply{align-self:flex-start;background:#f0f2f7}",
      ".ca-webchat-author{display:block;font-size:11px;color:#667;margin-bottom:2px}",
      ".ca-webchat-citations{margin:6px 0 0;padding-left:16px;font-size:12px}",
      ".ca-webchat-notice{align-self:center;font-size:12px;color:#556;text-align:center}",
      ".ca-webchat-form{display:flex;border-top:1px solid #ddd}",
      ".ca-webchat-input{flex:1;border:0;padding:10px;font:inherit;outline:none}",
      ".ca-webchat-send{border:0;background:none;color:#2d5bd7;font-weight:600;padding:0 12px;cursor:pointer}"
    ].join("");
    document.head.appendChild(css);
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

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

  function showReply(frame) {
    var bubble = el("div", "ca-webchat-message ca-webchat-reply");
    bubble.setAttribute("data-kind", frame.kind || "");
    bubble.setAttribute("lang", frame.language || "");
    var author = frame.author && frame.author.name ? frame.author.name : "";
    if (author) { bubble.appendChild(el("span", "ca-webchat-author", author)); }
    bubble.appendChild(el("span", "ca-webchat-text", frame.text));
    var citations = Array.isArray(frame.citations) ? frame.citations : [];
    if (citations.length) {
      var ul = el("ul", "ca-webchat-citations");
      citations.forEach(function (c) { ul.appendChild(citationItem(c || {})); });
      bubble.appendChild(ul);
    }
    badge.textContent = frame.powered_by_ai ? "Powered by AI" : "";
    list.appendChild(bubble);
    scrollDown();
  }

  function assigneeName(assignee) {
    if (!assignee || assignee.kind === "unassigned" || !assignee.id) { return "A person"; }
    return assignee.kind === "team" ? "Team " + assignee.id : assignee.id;
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (frame.type === "session") {
      sessionStorage.setItem(storageKey, frame.thread_id);
      panel.setAttribute("data-thread-id", frame.thread_id);
      panel.setAttribute("data-state", "open");
      retries = 0;
      while (pending.length && socket.readyState === WebSocket.OPEN) { socket.send(pending.shift()); }
    } else if (frame.type === "message") {
      showReply(frame);
    } else if (frame.type === "handoff") {
      badge.textContent = "";
      var line = el("div", "ca-webchat-notice ca-webchat-handoff", assigneeName(frame.assignee) + " took over");
      list.appendChild(line);
      scrollDown();
    }
  }

  function onClose(event) {
    socket = null;
    panel.setAttribute("data-state", "closed");
    if (event.code === 1008 || event.code === 1007 || event.code === 1009 || event.code === 1013 || event.code === 1011) {
      notice(event.reason || "The chat was closed.");
    }
    if (reconnectCodes[event.code] && event.code !== 1001 && panel.classList.contains("ca-open") && retries < 6) {
      retries += 1;
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    }
  }

  function connect() {
    if (socket) { return; }
    var url = new URL("/v1/webchat/" + encodeURIComponent(account) + "/" + encodeURIComponent(channel), server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var thread = sessionStorage.getItem(storageKey);
    if (thread) { url.searchParams.set("thread_id", thread); }
    panel.setAttribute("data-state", "connecting");
    socket = new WebSocket(url.toString());
    socket.addEventListener("message", onFrame);
    socket.addEventListener("close", onClose);
  }

  function send(text) {
    var frame = { type: "message", text: text };
    if (navigator.language) { frame.locale = navigator.language; }
    var body = JSON.stringify(frame);
    var bubble = el("div", "ca-webchat-message ca-webchat-visitor", text);
    list.appendChild(bubble);
    scrollDown();
    if (socket && socket.readyState === WebSocket.OPEN && panel.getAttribute("data-state") === "open") {
      socket.send(body);
    } else {
      pending.push(body);
      connect();
    }
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

  function build() {
    style();
    var bubble = el("button", "ca-webchat-bubble");
    bubble.appendChild(bubbleIcon());
    bubble.type = "button";
    bubble.setAttribute("aria-label", title);
    panel = el("section", "ca-webchat-panel");
    panel.setAttribute("aria-label", title);
    panel.setAttribute("data-state", "closed");
    var header = el("div", "ca-webchat-header");
    header.appendChild(el("span", "ca-webchat-title", title));
    badge = el("span", "ca-webchat-ai", "");
    header.appendChild(badge);
    list = el("div", "ca-webchat-list");
    list.setAttribute("aria-live", "polite");
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
    panel.appendChild(list);
    panel.appendChild(form);
    document.body.appendChild(panel);
    document.body.appendChild(bubble);
    bubble.addEventListener("click", function () {
      panel.classList.toggle("ca-open");
      if (panel.classList.contains("ca-open")) { connect(); input.focus(); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      send(text);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", build);
  } else {
    build();
  }
})();
