// The desk pages hear about changes live: a WebSocket at /console/live says that something
// changed (a new request, a customer's message, a colleague's action), and the parts of the
// page marked data-live are fetched again and swapped in. What is being typed is kept.
"use strict";

(() => {
  const status = document.getElementById("live-status");
  let refreshing = false;
  let again = false;
  let retry = 1000;

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live]")) {
        const replacement = fresh.getElementById(region.id);
        if (replacement) region.replaceChildren(...replacement.childNodes);
      }
      if (status) status.textContent = `Updated at ${new Date().toLocaleTimeString()}.`;
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/console/live`);
    socket.addEventListener("open", () => { retry = 1000; });
    socket.addEventListener("message", () => { refresh(); });
    socket.addEventListener("close", () => {
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  connect();
})();
