// A small web chat over the web chat API. Everything is rendered with textContent: what a
// customer or agent typed is never interpreted as HTML.
(function () {
  "use strict";
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var status = document.getElementById("status");
  var conversationId = localStorage.getItem("redress.conversation") || null;

  function show(role, text, buttons) {
    var item = document.createElement("li");
    item.className = role;
    item.textContent = text;
    (buttons || []).forEach(function (button) {
      var choice = document.createElement("button");
      choice.type = "button";
      choice.textContent = button.title;
      choice.addEventListener("click", function () { send(button.payload, button.title); });
      item.appendChild(document.createElement("br"));
      item.appendChild(choice);
    });
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function send(text, shown) {
    show("customer", shown || text);
    status.textContent = "Typing…";
    fetch("/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ conversation_id: conversationId, text: text })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      status.textContent = "";
      if (result.body.conversation_id) {
        conversationId = result.body.conversation_id;
        localStorage.setItem("redress.conversation", conversationId);
      }
      (result.body.replies || []).forEach(function (reply) { show("bot", reply.text, reply.buttons); });
      if (!result.ok && !(result.body.replies || []).length) {
        status.textContent = result.body.error ? result.body.error.message : "Something went wrong.";
      }
    }).catch(function () {
      status.textContent = "We couldn't send that. Please check your connection and try again.";
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
})();
