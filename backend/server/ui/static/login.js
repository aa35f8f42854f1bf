"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("sign-in");
  const error = document.getElementById("sign-in-error");
  // Coming from a link on another site, the browser held the (SameSite=Strict) cookie
  // back: a request from here sends it, and a live session goes straight on.
  Monitor.get("/ui/session").then(function (result) {
    if (result.ok && result.data.signed_in) {
      location.replace(form.dataset.next || "/ui/runs");
    }
  });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    Monitor.showError(error, "");
    const key = document.getElementById("key").value.trim();
    const response = await fetch("/ui/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ key: key }),
    });
    if (response.ok) {
      location.assign(form.dataset.next || "/ui/runs");
      return;
    }
    let message = "sign-in failed (" + response.status + ")";
    try {
      message = (await response.json()).error.message;
    } catch (e) {
      // keep the generic message
    }
    Monitor.showError(error, message);
  });
});
