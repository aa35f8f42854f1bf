// The run page: node colours follow the run's event stream; a selected node shows its
// executions (inputs, outputs, error, attempts, timings) as the API gives them (masked).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const root = document.getElementById("run");
  const runId = root.dataset.runId;
  const api = "/api/v1/executions/" + encodeURIComponent(runId);
  const FINAL = ["COMPLETED", "FAILED", "TERMINATED"];
  const NODE_PAGE = 200; // executions of one node shown at once
  const seen = new Map(); // node id -> node execution ids seen in the stream
  let selected = null;
  let stream = null;

  function byNode(attribute, nodeId) {
    return Array.from(document.querySelectorAll("[" + attribute + "]")).filter(function (e) {
      return e.getAttribute(attribute) === nodeId;
    });
  }

  function setNodeStatus(nodeId, status, execId) {
    for (const box of byNode("data-node-id", nodeId)) {
      if (box.classList.contains("node")) {
        box.setAttribute("class", "node s-" + status + (nodeId === selected ? " selected" : ""));
        box.dataset.status = status;
        const label = box.getAttribute("aria-label") || "";
        box.setAttribute("aria-label", label.replace(/: [A-Z_]+$/, ": " + status));
        const state = box.querySelector("text.state");
        if (state) {
          state.textContent = status;
        }
      }
    }
    for (const badge of byNode("data-status-of", nodeId)) {
      badge.textContent = status;
      badge.className = "status s-" + status;
    }
    if (execId) {
      if (!seen.has(nodeId)) {
        seen.set(nodeId, new Set());
      }
      seen.get(nodeId).add(execId);
      for (const cell of byNode("data-count-of", nodeId)) {
        cell.textContent = String(Math.max(Number(cell.textContent) || 0, seen.get(nodeId).size));
      }
    }
  }

  function dl(pairs) {
    const list = Monitor.el("dl");
    for (const [term, value] of pairs) {
      list.appendChild(Monitor.el("dt", term));
      list.appendChild(Monitor.el("dd", value));
    }
    return list;
  }

  function execution(ne, children) {
    const box = Monitor.el("article", null, { class: "execution" });
    box.appendChild(Monitor.el("h3", "Execution " + ne.seq + " · " + ne.status));
    box.appendChild(
      dl([
        ["Status", ne.status],
        ["Attempts", ne.attempt],
        ["Started", Monitor.when(ne.started_at)],
        ["Ended", Monitor.when(ne.ended_at)],
        ["Duration", Monitor.duration(ne.started_at, ne.ended_at)],
      ])
    );
    const child = children.find(function (c) {
      return c.parent_node_exec_id === ne.id;
    });
    if (child) {
      const line = Monitor.el("p", "Sub-agent run: ");
      line.appendChild(Monitor.el("a", child.id.slice(0, 8), { href: "/ui/runs/" + encodeURIComponent(child.id) }));
      line.append(" ");
      line.appendChild(Monitor.statusBadge(child.status));
      box.appendChild(line);
    }
    if (ne.error) {
      box.appendChild(Monitor.el("h4", "Error"));
      box.appendChild(Monitor.el("pre", ne.error, { class: "value error" }));
    }
    box.appendChild(Monitor.el("h4", "Inputs"));
    box.appendChild(Monitor.el("pre", Monitor.pretty(ne.input_data), { class: "value node-inputs" }));
    box.appendChild(Monitor.el("h4", "Outputs"));
    const outputs = ne.output_data.map(function (pair) {
      return pair[0] + ": " + JSON.stringify(pair[1], null, 2);
    });
    box.appendChild(
      Monitor.el("pre", outputs.length ? outputs.join("\n") : "(none)", { class: "value node-outputs" })
    );
    return box;
  }

  async function showNode(nodeId, focus) {
    selected = nodeId;
    for (const box of document.querySelectorAll("g.node")) {
      box.classList.toggle("selected", box.dataset.nodeId === nodeId);
    }
    const panel = document.getElementById("node-detail");
    const row = byNode("data-node-id", nodeId).find(function (e) {
      return e.tagName === "TR";
    });
    const name = row ? row.cells[0].textContent + " · " + row.cells[1].textContent : nodeId;
    document.getElementById("node-detail-name").textContent = name;
    panel.hidden = false;
    if (focus) {
      panel.focus();
    }
    // Only this node's executions, whatever the size of the run.
    const query = "/nodes?limit=" + NODE_PAGE + "&node_id=" + encodeURIComponent(nodeId);
    const [result, run] = await Promise.all([Monitor.get(api + query), Monitor.get(api)]);
    const body = document.getElementById("node-detail-body");
    if (!result.ok || !run.ok) {
      body.replaceChildren(Monitor.el("p", result.message || run.message, { class: "error" }));
      return;
    }
    if (selected !== nodeId) {
      return; // another node was chosen meanwhile
    }
    const parts = result.data.items.map(function (ne) {
      return execution(ne, run.data.children || []);
    });
    if (parts.length === 0) {
      parts.push(Monitor.el("p", "This node has not run (yet)."));
    } else if (result.data.next_cursor) {
      const more =
        "The first " + NODE_PAGE + " executions of this node are shown; the API pages the rest.";
      parts.push(Monitor.el("p", more, { class: "muted" }));
    }
    body.replaceChildren(...parts);
  }

  for (const box of document.querySelectorAll("g.node")) {
    box.addEventListener("click", function () {
      showNode(box.dataset.nodeId, false);
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        showNode(box.dataset.nodeId, true);
      }
    });
  }
  for (const button of document.querySelectorAll("button.show-node")) {
    button.addEventListener("click", function () {
      showNode(button.dataset.nodeId, true);
    });
  }

  async function finished() {
    const result = await Monitor.get(api);
    if (!result.ok) {
      return;
    }
    const run = result.data;
    root.dataset.started = run.started_at || "";
    document.getElementById("run-ended").textContent = Monitor.when(run.ended_at);
    document.getElementById("run-duration").textContent = Monitor.duration(run.started_at, run.ended_at);
    document.getElementById("run-outputs").textContent = Monitor.pretty(run.outputs);
    document.getElementById("run-error").textContent = run.error || "";
    document.getElementById("run-error-box").hidden = !run.error;
    const s = run.stats;
    document.getElementById("run-nodes").textContent =
      s.node_executions + " (" + s.attempts + " attempts)";
    document.getElementById("run-tokens").textContent =
      s.input_tokens + " in, " + s.output_tokens + " out, " + s.llm_calls + " LLM calls";
  }

  function setRunStatus(status) {
    const badge = document.getElementById("run-status");
    badge.textContent = status;
    badge.className = "status s-" + status;
  }

  function listen() {
    stream = new EventSource(api + "/events");
    stream.addEventListener("node_status", function (event) {
      const data = JSON.parse(event.data);
      setNodeStatus(data.node_id, data.status, data.node_exec_id);
      if (data.node_id === selected && FINAL.includes(data.status)) {
        showNode(selected, false);
      }
    });
    stream.addEventListener("run_status", function (event) {
      const data = JSON.parse(event.data);
      setRunStatus(data.status);
      if (data.status === "RUNNING" && !root.dataset.started) {
        root.dataset.started = String(Date.now() / 1000); // close enough until it ends
      }
      if (FINAL.includes(data.status)) {
        stream.close();
        root.dataset.final = "true";
        const cancel = document.getElementById("cancel");
        if (cancel) {
          cancel.hidden = true;
        }
        finished();
      }
    });
    stream.addEventListener("error", async function () {
      if (stream.readyState === EventSource.CLOSED && root.dataset.final !== "true") {
        // Refused (signed out, key revoked): the check below sends us to sign in.
        const result = await Monitor.get(api);
        if (result.ok) {
          Monitor.notice("Live updates stopped: reload the page to resume.");
        }
      }
    });
  }

  const cancel = document.getElementById("cancel");
  if (cancel) {
    cancel.addEventListener("click", async function () {
      cancel.disabled = true;
      const result = await Monitor.send("/ui/runs/" + encodeURIComponent(runId) + "/cancel");
      Monitor.notice(result.ok ? "Cancellation requested." : result.message);
      cancel.disabled = false;
    });
  }

  // A running run's duration counts up until it ends.
  setInterval(function () {
    if (root.dataset.final !== "true" && root.dataset.started) {
      document.getElementById("run-duration").textContent = Monitor.duration(
        Number(root.dataset.started),
        null
      );
    }
  }, 1000);

  root.dataset.live = "false";
  if (root.dataset.final !== "true") {
    listen();
    root.dataset.live = "true";
  }
});
