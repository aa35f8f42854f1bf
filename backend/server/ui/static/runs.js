// The runs list: refreshed every few seconds from /ui/runs.json while "Live" is ticked.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const table = document.getElementById("runs");
  const live = document.getElementById("live");
  const EVERY_MS = 3000;
  let shown = null;

  function row(run) {
    const tr = document.createElement("tr");
    const first = Monitor.el("td");
    first.appendChild(Monitor.el("a", run.id.slice(0, 8), { href: "/ui/runs/" + encodeURIComponent(run.id) }));
    if (run.parent_run_id) {
      first.append(" ");
      first.appendChild(Monitor.el("span", "sub-agent", { class: "tag" }));
    }
    tr.appendChild(first);
    const status = Monitor.el("td");
    status.appendChild(Monitor.statusBadge(run.status));
    tr.appendChild(status);
    const graph = Monitor.el("td");
    const href = "/ui/graphs/" + encodeURIComponent(run.graph_id) + "?version=" + run.graph_version;
    graph.appendChild(Monitor.el("a", run.graph_name, { href: href }));
    graph.append(" ");
    graph.appendChild(Monitor.el("span", "v" + run.graph_version, { class: "muted" }));
    tr.appendChild(graph);
    tr.appendChild(Monitor.el("td", run.started || run.created));
    tr.appendChild(Monitor.el("td", run.duration));
    const nodes = Monitor.el("td", run.nodes);
    if (run.node_counts) {
      nodes.append(" ");
      nodes.appendChild(Monitor.el("span", "(" + run.node_counts + ")", { class: "muted" }));
    }
    tr.appendChild(nodes);
    return tr;
  }

  async function refresh() {
    if (!live.checked || document.hidden) {
      return;
    }
    const query = new URLSearchParams();
    for (const [name, value] of [
      ["status", table.dataset.status],
      ["graph_id", table.dataset.graphId],
      ["cursor", table.dataset.cursor],
    ]) {
      if (value) {
        query.set(name, value);
      }
    }
    const result = await Monitor.get("/ui/runs.json?" + query.toString());
    if (!result.ok) {
      Monitor.notice(result.message);
      return;
    }
    Monitor.notice("");
    const seen = JSON.stringify(result.data.items);
    if (seen === shown) {
      return; // unchanged: keep the rows (and the keyboard focus in them)
    }
    shown = seen;
    const body = table.tBodies[0];
    const rows = result.data.items.map(row);
    if (rows.length === 0) {
      const empty = Monitor.el("tr", null, { class: "empty" });
      empty.appendChild(Monitor.el("td", "No runs yet.", { colspan: "6" }));
      rows.push(empty);
    }
    body.replaceChildren(...rows);
  }

  setInterval(refresh, EVERY_MS);
});
