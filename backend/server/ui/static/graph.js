// Start a run from the form generated from the graph's agent inputs.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("start");
  const error = document.getElementById("start-error");

  function value(field) {
    const kind = field.dataset.kind;
    if (kind === "boolean") {
      return field.checked;
    }
    const text = field.value;
    if (text === "") {
      return undefined; // left out: the graph's default applies
    }
    if (kind === "integer" || kind === "number") {
      return Number(text);
    }
    if (kind === "json") {
      try {
        return JSON.parse(text);
      } catch (e) {
        return text;
      }
    }
    return text;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    Monitor.showError(error, "");
    const inputs = {};
    for (const field of form.querySelectorAll("[data-input]")) {
      const v = value(field);
      if (v !== undefined) {
        inputs[field.dataset.input] = v;
      }
    }
    const url = "/ui/graphs/" + encodeURIComponent(form.dataset.graphId) + "/runs";
    const result = await Monitor.send(url, { inputs: inputs, version: Number(form.dataset.version) });
    if (result.ok) {
      location.assign("/ui/runs/" + encodeURIComponent(result.data.id));
    } else {
      Monitor.showError(error, result.message);
    }
  });
});
