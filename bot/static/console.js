// Redress operator console: the light touch of JavaScript the pages use. Everything works
// without it (plain forms and links); with it, a form that changes something important asks
// first (data-confirm), and pages that opt in hear about changes live.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // One press, one action: the button is disabled until the next page loads.
  if (form instanceof HTMLFormElement && form.method.toLowerCase() === "post") {
    for (const button of form.querySelectorAll("button[type=submit]")) {
      window.setTimeout(() => { button.disabled = true; }, 0);
    }
  }
});
