// Redress console, incidents: checks each text customers will read as the operator types
// (plain language, sentence length, jargon, blame), by asking the server the same checks it
// applies when the form is sent. The result is shown under each field and announced politely.
"use strict";

(() => {
  const WAIT_MS = 400;

  const showChecks = (form, checks) => {
    for (const [name, check] of Object.entries(checks)) {
      const field = form.querySelector(`[data-check="${name}"]`);
      const box = field && document.getElementById(field.getAttribute("aria-describedby"));
      if (!box) continue;
      const lines = [];
      if (check.ok) {
        const ease = check.reading_ease === null ? "" : ` (reading ease ${check.reading_ease})`;
        lines.push(["check-pass", `Passes the plain-language and blame checks${ease}.`]);
      } else {
        for (const problem of check.problems) lines.push(["check-fail", `${check.label}: ${problem}`]);
      }
      const shown = lines.map(([kind, text]) => `${kind}:${text}`).join("\n");
      if (box.dataset.shown === shown) continue; // nothing new to announce
      box.dataset.shown = shown;
      box.replaceChildren(...lines.map(([kind, text]) => {
        const line = document.createElement("p");
        line.className = kind;
        line.textContent = text;
        return line;
      }));
      field.setAttribute("aria-invalid", check.ok ? "false" : "true");
    }
  };

  const check = async (form) => {
    const body = new URLSearchParams();
    body.set("csrf", form.querySelector("input[name=csrf]").value);
    for (const field of form.querySelectorAll("[data-check]")) body.set(field.name, field.value);
    try {
      const answer = await fetch(form.dataset.checkUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (!answer.ok) return; // the server checks again when the form is sent
      const found = await answer.json();
      showChecks(form, found.checks || {});
    } catch {
      // Offline for a moment: the checks come back with the next keystroke or on sending.
    }
  };

  for (const form of document.querySelectorAll("form[data-check-url]")) {
    let timer;
    form.addEventListener("input", (event) => {
      if (!(event.target instanceof HTMLElement) || !event.target.dataset.check) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => check(form), WAIT_MS);
    });
  }
})();
