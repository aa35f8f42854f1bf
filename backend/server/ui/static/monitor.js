// Shared helpers for the monitor's pages. Untrusted text only ever goes into the page
// through textContent or attribute setters, never as HTML.
"use strict";

window.Monitor = (function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A change (POST) with the session's CSRF token; JSON in, JSON out.
  async function send(url, body) {
    const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    const init = { method: "POST", headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return answer(await fetch(url, init));
  }

  async function get(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    return answer(response);
  }

  async function answer(response) {
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (response.status === 401) {
      signInAgain();
    }
    let message = "";
    if (!response.ok) {
      message = data && data.error ? data.error.message : "request failed (" + response.status + ")";
    }
    return { ok: response.ok, status: response.status, data: data, message: message };
  }

  function signInAgain() {
    const next = location.pathname + location.search;
    location.assign("/ui/login?next=" + encodeURIComponent(next));
  }

  // An element with text content and attributes (never innerHTML).
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, value);
    }
    return node;
  }

  function statusBadge(status) {
    return el("span", status, { class: "status s-" + status });
  }

  function showError(target, message) {
    target.textContent = message;
    target.hidden = !message;
  }

  function notice(message) {
    const box = document.getElementById("notice");
    if (box) {
      showError(box, message);
    }
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function when(timestamp) {
    if (timestamp === null || timestamp === undefined) {
      return "";
    }
    return new Date(timestamp * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function duration(start, end) {
    if (start === null || start === undefined) {
      return "";
    }
    const seconds = (end === null || end === undefined ? Date.now() / 1000 : end) - start;
    if (seconds < 60) {
      return seconds.toFixed(1) + " s";
    }
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) {
      return minutes + " min " + Math.floor(seconds % 60) + " s";
    }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A drawn graph is shown full size (scrolled); this button shrinks it to fit instead.
    for (const button of document.querySelectorAll("button.fit-graph")) {
      button.addEventListener("click", function () {
        const box = button.parentElement.nextElementSibling;
        const fit = box.classList.toggle("fit");
        button.setAttribute("aria-pressed", fit ? "true" : "false");
      });
    }
    const out = document.getElementById("sign-out");
    if (out) {
      out.addEventListener("click", async function () {
        const result = await send("/ui/logout");
        if (result.ok) {
          location.assign("/ui/login");
        } else {
          notice(result.message);
        }
      });
    }
  });

  return {
    send: send,
    get: get,
    el: el,
    statusBadge: statusBadge,
    showError: showError,
    notice: notice,
    pretty: pretty,
    when: when,
    duration: duration,
  };
})();
