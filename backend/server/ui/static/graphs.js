// Import a graph: the chosen file is read here and sent as JSON with the CSRF token.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("import");
  const error = document.getElementById("import-error");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    Monitor.showError(error, "");
    const file = document.getElementById("graph-file").files[0];
    if (!file) {
      Monitor.showError(error, "Choose a JSON file first.");
      return;
    }
    let graph;
    try {
      graph = JSON.parse(await file.text());
    } catch (e) {
      Monitor.showError(error, "That file is not JSON: " + e.message);
      return;
    }
    const result = await Monitor.send("/ui/graphs", graph);
    if (result.ok) {
      location.assign("/ui/graphs/" + encodeURIComponent(result.data.id));
    } else {
      Monitor.showError(error, result.message);
    }
  });
});
