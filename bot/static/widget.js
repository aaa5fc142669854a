/*
 * Redress web chat widget. Plain JavaScript, no dependencies, no build step.
 *
 * Embed it with one tag, anywhere in the page:
 *
 *   <script src="https://chat.example.com/static/widget.js"
 *           data-redress-url="https://chat.example.com" defer></script>
 *
 *   data-redress-url       where the Redress gateway runs (default: where this file came from)
 *   data-redress-title     the panel's heading (default "Chat with us")
 *   data-redress-greeting  the first line the customer sees; it is not sent anywhere
 *   data-redress-account, data-redress-signature
 *                          a logged-in customer's account number and its signature, made
 *                          by the business's server with REDRESS_IDENTITY_SECRET
 *                          (docs/identity.md); sent with every message as "identity"
 *
 * The widget loads its stylesheet from <data-redress-url>/static/widget.css; the colours and
 * font come from four CSS custom properties documented at the top of that file. On another
 * site, list that site's origin in the gateway's REDRESS_WIDGET_ORIGINS, and allow the
 * gateway in the page's own Content-Security-Policy (script-src, style-src, connect-src).
 *
 * How it talks to the gateway (docs/architecture.md, "Web chat API"):
 * - POST /api/messages sends what the customer typed (or a button's payload). The answer
 *   carries the conversation id, the id of the customer's own message and the replies; the
 *   answer that starts a conversation also carries its conversation_token, a secret sent
 *   with every later message.
 * - The WebSocket /api/conversations/<id>/live?after=<last id seen>&token=<token> first sends
 *   every message after that id, then each new one (replies, agent messages). It is opened on
 *   load (so a reload shows the history) and again after a lost connection, with backoff.
 * - Every message is shown once, keyed by its id, whichever way it arrives first.
 * - The conversation id and its token are kept together in localStorage, so the chat
 *   survives a reload. An id kept without a token (by an older widget) is dropped, and the
 *   next message starts a new conversation.
 *
 * Everything a customer or agent typed is put on the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  if (window.Redress) {
    return; // the tag is on the page twice
  }

  // Every text the widget itself shows. tests/unit/test_customer_texts.py checks that each
  // reads plainly, so keep them here, in double quotes, one per line.
  var TEXT = {
    launcher: "Chat with us",
    title: "Chat with us",
    greeting: "Hi. Tell us what went wrong, in your own words, and we'll help put it right.",
    close: "Close chat",
    conversation: "Conversation",
    inputLabel: "Your message",
    placeholder: "Type your message",
    send: "Send",
    you: "You said:",
    assistant: "Assistant said:",
    agent: "Customer care",
    agentSaid: "{name} said:",
    choices: "Suggested replies",
    typing: "Writing a reply…",
    newMessage: "New message",
    charsLeft: "{left} characters left.",
    atLimit: "That's the most one message can hold ({max} characters). Please send this part, then write the rest in a new message.",
    tooLong: "This message is too long to send. Please make it shorter, or send it in parts.",
    offline: "We couldn't send your message. Please check your connection and try again. Your message is still in the box.",
    failed: "Something went wrong on our side. Please try again. Your message is still in the box.",
    buttonFailed: "We couldn't send that choice. Please check your connection and try again.",
    reconnecting: "We lost the connection for a moment. Trying again…",
    reconnected: "Connected again."
  };
  var MAX_CHARS = 4000;
  var WARN_AT = 400; // characters left when the counter appears
  var SEND_TIMEOUT_MS = 45000;
  var MAX_BACKOFF_MS = 30000;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var scriptUrl = script && script.src ? script.src : location.href;
  var setting = function (name) {
    return (script && script.getAttribute("data-redress-" + name)) || "";
  };
  var base = new URL(setting("url") || new URL("../", scriptUrl).href, location.href);
  if (base.pathname.slice(-1) !== "/") {
    base.pathname += "/";
  }

  // A signed login from the business's page, passed on as it was given (docs/identity.md).
  function withIdentity(body) {
    var account = setting("account");
    var signature = setting("signature");
    if (account && signature) {
      body.identity = { account_number: account, signature: signature };
    }
    return body;
  }

  var apiUrl = function (path) {
    return new URL(path, base).href;
  };
  var socketUrl = function (path) {
    var url = new URL(path, base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  };

  // Storage can be missing or refused (private windows, blocked cookies): fall back to memory.
  function store(kind) {
    var memory = {};
    var backend = null;
    try {
      backend = window[kind];
      backend.setItem("redress:probe", "1");
      backend.removeItem("redress:probe");
    } catch (refused) {
      backend = null;
    }
    return {
      get: function (key) {
        try {
          return backend ? backend.getItem(key) : memory[key] || null;
        } catch (refused) {
          return memory[key] || null;
        }
      },
      set: function (key, value) {
        memory[key] = value;
        try {
          if (backend) { backend.setItem(key, value); }
        } catch (refused) { /* memory keeps it for this page */ }
      },
      remove: function (key) {
        delete memory[key];
        try {
          if (backend) { backend.removeItem(key); }
        } catch (refused) { /* nothing to do */ }
      }
    };
  }
  var saved = store("localStorage");
  var session = store("sessionStorage");
  var KEY = "redress:" + base.href + ":";

  var conversationId = saved.get(KEY + "conversation");
  var conversationToken = saved.get(KEY + "token");
  if (!conversationId || !conversationToken) {
    // Only the token lets the widget back into a conversation; one without it cannot be
    // continued, so the next message starts a new conversation.
    conversationId = null;
    conversationToken = null;
    saved.remove(KEY + "conversation");
    saved.remove(KEY + "token");
  }
  var lastId = 0; // the highest message id on the page
  var known = {}; // message id -> its list item
  var pending = []; // customer messages sent but not yet given an id: {item, text}
  var unsent = null; // the last message not answered with a 200: {text, id}, to send again
  var sending = 0;
  var starting = null; // the first message's request, while it starts a new conversation
  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var lostNoticeTimer = null;
  var toldLost = false;

  // ---- building the widget ---------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "redress-icon");
    paths.forEach(function (d) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  var root = el("div", "redress");
  root.hidden = true; // until the stylesheet has loaded

  var panel = el("section", "redress-panel");
  panel.id = "redress-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "redress-title");

  var header = el("div", "redress-header");
  var title = el("h2", "redress-title", setting("title") || TEXT.title);
  title.id = "redress-title";
  var closeButton = el("button", "redress-close");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", TEXT.close);
  closeButton.appendChild(icon(["M6 6l12 12M18 6L6 18"]));
  header.appendChild(title);
  header.appendChild(closeButton);

  var log = el("ol", "redress-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", TEXT.conversation);
  log.tabIndex = 0; // a scrolling area keyboard users can reach
  var greeting = el("li", "redress-greeting", setting("greeting") || TEXT.greeting);
  log.appendChild(greeting);

  var typing = el("div", "redress-typing");
  typing.setAttribute("aria-hidden", "true");
  typing.hidden = true;
  typing.appendChild(el("span", "redress-dot"));
  typing.appendChild(el("span", "redress-dot"));
  typing.appendChild(el("span", "redress-dot"));

  var announcer = el("p", "redress-visually-hidden");
  announcer.setAttribute("role", "status");

  var notice = el("p", "redress-notice");
  notice.setAttribute("role", "alert");
  notice.hidden = true;

  var form = el("form", "redress-composer");
  form.noValidate = true;
  var label = el("label", "redress-visually-hidden", TEXT.inputLabel);
  label.htmlFor = "redress-input";
  var input = el("textarea", "redress-input");
  input.id = "redress-input";
  input.name = "message";
  input.rows = 1;
  input.maxLength = MAX_CHARS;
  input.placeholder = TEXT.placeholder;
  input.autocomplete = "off";
  input.setAttribute("aria-describedby", "redress-counter");
  var sendButton = el("button", "redress-send");
  sendButton.type = "submit";
  sendButton.appendChild(el("span", "redress-send-label", TEXT.send));
  sendButton.appendChild(icon(["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"]));
  var counter = el("p", "redress-counter");
  counter.id = "redress-counter";
  counter.hidden = true;
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendButton);
  form.appendChild(counter);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(notice);
  panel.appendChild(form);
  panel.appendChild(announcer);

  var launcher = el("button", "redress-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "redress-panel");
  launcher.appendChild(icon(["M4 5h16v11H9l-5 4z"]));
  launcher.appendChild(el("span", "redress-launcher-label", TEXT.launcher));
  var badge = el("span", "redress-badge");
  badge.hidden = true;
  badge.appendChild(el("span", "redress-visually-hidden", TEXT.newMessage));
  launcher.appendChild(badge);

  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- showing messages ------------------------------------------------------------------

  function parseTime(value) {
    if (typeof value !== "string" || !value) { return new Date(); }
    // The gateway sends UTC with an offset; a time without one is UTC too.
    var withZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(value) ? value : value + "Z";
    var date = new Date(withZone);
    return isNaN(date.getTime()) ? new Date() : date;
  }

  function setTime(node, value) {
    var date = parseTime(value);
    var today = new Date().toDateString() === date.toDateString();
    node.dateTime = date.toISOString();
    node.textContent = today
      ? date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })
      : date.toLocaleString([], { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
    node.title = date.toLocaleString();
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }

  function messageItem(role, text, author) {
    var kind = role === "customer" ? "customer" : role === "agent" ? "agent" : "bot";
    var item = el("li", "redress-msg redress-msg--" + kind);
    item.setAttribute("data-role", kind);
    if (kind === "agent") {
      var name = author || TEXT.agent;
      item.setAttribute("data-author", name);
      var who = el("span", "redress-author", name);
      who.setAttribute("aria-hidden", "true");
      item.appendChild(who);
      item.appendChild(el("span", "redress-visually-hidden", fill(TEXT.agentSaid, { name: name })));
    } else {
      item.appendChild(el("span", "redress-visually-hidden", kind === "customer" ? TEXT.you : TEXT.assistant));
    }
    item.appendChild(el("p", "redress-bubble", text));
    var time = el("time", "redress-time");
    item.appendChild(time);
    return item;
  }

  // Items are kept in id order; messages still on their way stay at the end.
  function place(item, id) {
    var before = null;
    for (var i = log.children.length - 1; i >= 0; i--) {
      var other = log.children[i];
      var otherId = other.getAttribute("data-id");
      if (otherId === null && other.classList.contains("redress-msg")) {
        before = other;
        continue;
      }
      if (otherId !== null && Number(otherId) > id) {
        before = other;
        continue;
      }
      break;
    }
    log.insertBefore(item, before);
  }

  function remember(item, id) {
    item.setAttribute("data-id", String(id));
    known[id] = item;
    if (id > lastId) { lastId = id; }
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(message, fromSocket) {
    if (!message || typeof message.id !== "number") { return; }
    var text = typeof message.text === "string" ? message.text : "";
    if (known[message.id]) {
      var shown = known[message.id].querySelector("time");
      if (message.created_at && shown && !shown.hasAttribute("data-server")) {
        setTime(shown, message.created_at);
        shown.setAttribute("data-server", "");
        afterChange(false);
      }
      return;
    }
    var follow = atBottom();
    if (message.role === "customer" && adoptPending(text, message.id, message.created_at)) {
      return;
    }
    var item = messageItem(message.role, text, message.author);
    var time = item.querySelector("time");
    setTime(time, message.created_at);
    time.setAttribute("data-server", "");
    var buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      var group = el("div", "redress-choices");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", TEXT.choices);
      buttons.forEach(function (button) {
        if (!button || typeof button.payload !== "string") { return; }
        var choice = el("button", "redress-choice", String(button.title || button.payload));
        choice.type = "button";
        choice.addEventListener("click", function () {
          send(button.payload, String(button.title || button.payload), false);
          input.focus();
        });
        group.appendChild(choice);
      });
      item.insertBefore(group, time);
    }
    remember(item, message.id);
    place(item, message.id);
    afterChange(follow || message.role === "customer");
    if (!panel.hidden) {
      markRead();
    } else if (fromSocket && message.role !== "customer" && message.id > readUpTo()) {
      badge.hidden = false; // arrived while the panel was closed
    }
  }

  // The customer's own message comes back with an id (in the POST answer or on the socket,
  // whichever is first): the bubble already on the page takes it.
  function adoptPending(text, id, createdAt) {
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].text === text.trim()) {
        var item = pending[i].item;
        pending.splice(i, 1);
        item.classList.remove("redress-msg--pending");
        log.removeChild(item);
        remember(item, id);
        place(item, id);
        if (createdAt) {
          var time = item.querySelector("time");
          setTime(time, createdAt);
          time.setAttribute("data-server", "");
        }
        afterChange(true);
        return true;
      }
    }
    return false;
  }

  function afterChange(follow) {
    // Buttons answer the latest question only: hide those the customer has moved on from.
    // A run of messages from one sender in one minute shows its time once, at the end
    // (screen readers still hear every time).
    var answered = false;
    var next = null;
    for (var i = log.children.length - 1; i >= 0; i--) {
      var item = log.children[i];
      if (!item.classList.contains("redress-msg")) {
        next = null;
        continue;
      }
      if (item.getAttribute("data-role") === "customer") { answered = true; }
      var group = item.querySelector(".redress-choices");
      if (group) { group.hidden = answered; }
      var time = item.querySelector("time");
      var repeated = next !== null &&
        next.getAttribute("data-role") === item.getAttribute("data-role") &&
        next.getAttribute("data-author") === item.getAttribute("data-author") &&
        next.querySelector("time").textContent === time.textContent;
      time.classList.toggle("redress-visually-hidden", repeated);
      item.classList.toggle("redress-msg--run", repeated);
      next = item;
    }
    if (follow) { scrollDown(); }
  }

  function readUpTo() {
    return Number(saved.get(KEY + "read") || 0);
  }

  function markRead() {
    badge.hidden = true;
    if (lastId > readUpTo()) { saved.set(KEY + "read", String(lastId)); }
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function announce(text) {
    announcer.textContent = "";
    if (text) {
      window.setTimeout(function () { announcer.textContent = text; }, 50);
    }
  }

  function setSending(change) {
    sending += change;
    var busy = sending > 0;
    if (typing.hidden === busy) {
      typing.hidden = !busy;
      if (busy) { announce(TEXT.typing); }
      if (atBottom() || busy) { scrollDown(); }
    }
  }

  // ---- sending ----------------------------------------------------------------------------

  function restore(text) {
    if (!input.value) {
      input.value = text;
    } else if (input.value.indexOf(text) === -1) {
      input.value = text + "\n" + input.value;
    }
    updateCounter();
  }

  function send(text, shown, typed) {
    showNotice("");
    var item = messageItem("customer", shown);
    item.classList.add("redress-msg--pending");
    setTime(item.querySelector("time"));
    var entry = { item: item, text: shown.trim() };
    pending.push(entry);
    place(item, Infinity);
    afterChange(true);
    setSending(1);

    var failed = function (message) {
      var index = pending.indexOf(entry);
      if (index !== -1) { // not recorded, so not shown either
        pending.splice(index, 1);
        if (item.parentNode) { log.removeChild(item); }
        afterChange(false);
        if (typed) { restore(text); }
      }
      showNotice(message);
    };

    // The same words sent again after a failure keep their id, so a message that did
    // reach the gateway is not taken twice (and one it could not answer is tried again).
    var clientId = unsent && unsent.text === text ? unsent.id : newMessageId();
    unsent = { text: text, id: clientId };
    post(text, false, clientId).then(function (result) {
      setSending(-1);
      var body = result.body || {};
      if (result.status === 200) { unsent = null; }
      var notTaken = result.status === 503 && body.error &&
        body.error.code === "records_unavailable";
      if (result.status === 200 || (result.status === 503 && !notTaken)) {
        if (typeof body.message_id === "number") {
          addMessage({ id: body.message_id, role: "customer", text: shown });
        }
        (Array.isArray(body.replies) ? body.replies : []).forEach(function (reply) {
          addMessage({
            id: reply.id, role: reply.role || "bot", text: reply.text,
            buttons: reply.buttons, created_at: reply.created_at, author: reply.author
          });
        });
        connect(); // after the messages, so the socket starts after them
        // 503: recorded and kept; the answer comes over the socket when the assistant is
        // back, so the words are not put back in the box to be sent twice.
        if (result.status === 503) { unsent = null; }
        return;
      }
      var replies = Array.isArray(body.replies) ? body.replies : [];
      var said = replies.length && typeof replies[0].text === "string" ? replies[0].text : "";
      var explained = body.error && typeof body.error.message === "string" ? body.error.message : "";
      if (result.status === 429 || notTaken) {
        // Not taken: said so, and the words go back in the box to send again.
        failed(said || explained || TEXT.failed);
      } else if (result.status === 400 && body.error && body.error.code === "text_too_long") {
        failed(TEXT.tooLong);
      } else if (result.status >= 400 && result.status < 500 && explained) {
        failed(explained);
      } else {
        failed(typed ? TEXT.failed : TEXT.buttonFailed);
      }
    }, function () {
      setSending(-1);
      failed(typed ? TEXT.offline : TEXT.buttonFailed);
    });
  }

  function newMessageId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "w" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function post(text, retried, clientId) {
    if (!conversationId && starting) {
      // Wait for the conversation the first message is starting, rather than start two.
      var after = function () { return post(text, retried, clientId); };
      return starting.then(after, after);
    }
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && window.setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS);
    var request = fetch(apiUrl("api/messages"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(withIdentity({
        conversation_id: conversationId,
        conversation_token: conversationToken,
        text: text,
        client_message_id: clientId
      })),
      credentials: "omit",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        window.clearTimeout(timer);
        return { status: response.status, body: body };
      });
    }, function (problem) {
      window.clearTimeout(timer);
      throw problem;
    }).then(function (result) {
      var body = result.body || {};
      var code = body.error && body.error.code;
      var lost = (result.status === 404 && code === "unknown_conversation") ||
        (result.status === 403 && code === "invalid_conversation_token");
      if (lost && !retried && conversationId) {
        // The gateway no longer knows this conversation (a new database), or will not let
        // this widget into it: start a new one.
        forget();
        return post(text, true, clientId);
      }
      if (!conversationId && typeof body.conversation_id === "string" && body.conversation_id &&
          typeof body.conversation_token === "string" && body.conversation_token) {
        conversationId = body.conversation_id;
        conversationToken = body.conversation_token;
        saved.set(KEY + "conversation", conversationId);
        saved.set(KEY + "token", conversationToken);
      }
      return result;
    });
    if (!conversationId) {
      starting = request;
      var done = function () {
        if (starting === request) { starting = null; }
      };
      request.then(done, done);
    }
    return request;
  }

  function forget() {
    conversationId = null;
    conversationToken = null;
    saved.remove(KEY + "conversation");
    saved.remove(KEY + "token");
    saved.remove(KEY + "read");
    disconnect();
    Object.keys(known).forEach(function (id) {
      if (known[id].parentNode) { log.removeChild(known[id]); }
    });
    known = {};
    lastId = 0;
  }

  // ---- the live connection ----------------------------------------------------------------

  function connect() {
    if (!conversationId || !conversationToken || socket) { return; }
    window.clearTimeout(reconnectTimer);
    reconnectTimer = null;
    var path = "api/conversations/" + encodeURIComponent(conversationId) + "/live?after=" +
      lastId + "&token=" + encodeURIComponent(conversationToken);
    var live;
    try {
      live = new WebSocket(socketUrl(path));
    } catch (refused) {
      scheduleReconnect();
      return;
    }
    socket = live;
    live.onopen = function () {
      attempts = 0;
      window.clearTimeout(lostNoticeTimer);
      lostNoticeTimer = null;
      if (toldLost) {
        toldLost = false;
        if (notice.textContent === TEXT.reconnecting) { showNotice(""); }
        announce(TEXT.reconnected);
      }
    };
    live.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (notJson) {
        return;
      }
      addMessage(message, true);
    };
    live.onclose = function (event) {
      if (socket !== live) { return; }
      socket = null;
      if (event.code === 4404 || event.code === 4401) {
        // The gateway has no such conversation, or will not let this widget into it.
        forget();
        return;
      }
      if (event.code === 4403) { // this site is not allowed to embed the chat
        return;
      }
      scheduleReconnect();
    };
  }

  function disconnect() {
    window.clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (socket) {
      var live = socket;
      socket = null;
      live.close();
    }
  }

  function scheduleReconnect() {
    if (reconnectTimer || !conversationId) { return; }
    var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts));
    delay = delay / 2 + Math.random() * delay / 2;
    attempts += 1;
    reconnectTimer = window.setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
    if (!lostNoticeTimer && !toldLost) {
      // A blip is not worth a word; a connection still down after a few seconds is.
      lostNoticeTimer = window.setTimeout(function () {
        lostNoticeTimer = null;
        if (!socket || socket.readyState !== 1) {
          toldLost = true;
          if (!panel.hidden && notice.hidden) { showNotice(TEXT.reconnecting); }
        }
      }, 4000);
    }
  }

  function reconnectNow() {
    if (conversationId && !socket) {
      attempts = 0;
      connect();
    }
  }

  // ---- the composer -----------------------------------------------------------------------

  function updateCounter() {
    var left = MAX_CHARS - input.value.length;
    if (left > WARN_AT) {
      counter.hidden = true;
      counter.textContent = "";
      root.classList.remove("redress--near-limit");
      return;
    }
    var wasAtLimit = counter.classList.contains("redress-counter--limit");
    var atLimit = left <= 0;
    counter.hidden = false;
    counter.textContent = atLimit
      ? fill(TEXT.atLimit, { max: MAX_CHARS })
      : fill(TEXT.charsLeft, { left: left });
    counter.classList.toggle("redress-counter--limit", atLimit);
    root.classList.add("redress--near-limit");
    if (atLimit && !wasAtLimit) { announce(counter.textContent); }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    if (text.length > MAX_CHARS) {
      updateCounter();
      showNotice(TEXT.tooLong);
      return;
    }
    input.value = "";
    updateCounter();
    send(text, text, true);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        sendButton.click();
      }
    }
  });
  input.addEventListener("input", updateCounter);

  // ---- opening and closing ----------------------------------------------------------------

  function setOpen(open, moveFocus) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    root.classList.toggle("redress--open", open);
    if (open) {
      session.set(KEY + "open", "1");
      markRead();
      scrollDown();
      if (toldLost && notice.hidden) { showNotice(TEXT.reconnecting); }
      if (moveFocus) { input.focus(); }
    } else {
      session.remove(KEY + "open");
      if (moveFocus) { launcher.focus(); }
    }
  }

  launcher.addEventListener("click", function () {
    setOpen(panel.hidden, true);
  });
  closeButton.addEventListener("click", function () {
    setOpen(false, true);
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      setOpen(false, true);
    }
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { reconnectNow(); }
  });

  // ---- start ------------------------------------------------------------------------------

  function start() {
    var stylesheet = document.createElement("link");
    stylesheet.rel = "stylesheet";
    stylesheet.href = apiUrl("static/widget.css");
    var shown = false;
    var show = function () {
      if (!shown) {
        shown = true;
        root.hidden = false;
      }
    };
    stylesheet.addEventListener("load", show);
    stylesheet.addEventListener("error", show);
    window.setTimeout(show, 3000);
    document.head.appendChild(stylesheet);
    document.body.appendChild(root);
    if (session.get(KEY + "open")) { setOpen(true, false); }
    connect();
  }

  window.Redress = {
    open: function () { setOpen(true, true); },
    close: function () { setOpen(false, true); }
  };

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
