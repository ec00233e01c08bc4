// The browser half of jupyter_argo.widgets.WorkflowView (an anywidget ES module).
//
// Python sends: `svg` (a new layout, only when the structure changed), `phases`
// ({node id: phase}) and `notes` ({group id: counts}) on every update, `palette`
// ({phase: {fill, text, glyph}}), `header` and `detail`. We send back `selected`, and a
// `rendered` message each time a view is drawn.
// A phase-only change repaints nodes in place: no new SVG, no layout.
// Text from the workflow is only ever set with textContent; the SVG comes from
// Graphviz, which escapes the labels it draws.

function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${secs}s`;
  return `${secs}s`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function styleFor(model, phase) {
  const palette = model.get("palette") || {};
  return palette[phase] || palette[""] || { fill: "#ccd6dd", text: "#1e2a33", glyph: "○" };
}

function badge(model, phase) {
  const style = styleFor(model, phase);
  const node = element("span", "argo-badge", `${style.glyph} ${phase || "Unknown"}`);
  node.style.background = style.fill;
  node.style.color = style.text;
  return node;
}

function table(rows) {
  const body = element("table", "argo-table");
  for (const [key, value] of rows) {
    const row = body.insertRow();
    row.insertCell().textContent = key;
    const cell = row.insertCell();
    cell.textContent = value;
    cell.title = value;
  }
  return body;
}

function ioSection(title, io) {
  const section = element("div", "argo-section");
  section.append(element("h4", "", title));
  const parameters = (io && io.parameters) || [];
  const artifacts = (io && io.artifacts) || [];
  if (!parameters.length && !artifacts.length) {
    section.append(element("div", "argo-muted", "none"));
  }
  if (parameters.length) section.append(table(parameters));
  if (artifacts.length) {
    section.append(element("div", "argo-muted", "artifacts"));
    section.append(table(artifacts));
  }
  return section;
}

function render({ model, el }) {
  el.classList.add("argo-view");
  const head = element("div", "argo-header");
  const title = element("span", "argo-name");
  const phase = element("span");
  const progress = element("span", "argo-progress");
  const duration = element("span", "argo-duration");
  const zoom = element("button", "argo-zoom", "1:1");
  zoom.title = "Natural size / fit to width";
  const message = element("div", "argo-message");
  const warnings = element("div", "argo-warnings");
  const failure = element("div", "argo-failure");
  head.append(phase, title, progress, duration, zoom);
  const graph = element("div", "argo-graph argo-fit");
  const detail = element("div", "argo-detail");
  el.append(head, message, warnings, failure, graph, detail);

  let byId = new Map();
  let glyphs = new Set();

  function paint() {
    const phases = model.get("phases") || {};
    const notes = model.get("notes") || {};
    glyphs = new Set(Object.values(model.get("palette") || {}).map((s) => s.glyph));
    for (const [id, nodePhase] of Object.entries(phases)) {
      const g = byId.get(id);
      if (!g) continue;
      const note = notes[id];
      if (g.dataset.phase === nodePhase && g.dataset.note === note) continue;
      g.dataset.phase = nodePhase;
      if (note !== undefined) g.dataset.note = note;
      const style = styleFor(model, nodePhase);
      const classes = (g.getAttribute("class") || "node").replace(/\bphase-\S*/, "");
      g.setAttribute("class", `${classes.trim()} phase-${nodePhase || "none"}`);
      for (const shape of g.querySelectorAll("path, polygon, ellipse, polyline")) {
        if (shape.getAttribute("fill") !== "none") shape.setAttribute("fill", style.fill);
      }
      g.querySelectorAll("text").forEach((text, index) => {
        text.setAttribute("fill", style.text);
        const content = text.textContent || "";
        if (index === 0 && glyphs.has(content.charAt(0))) {
          text.textContent = style.glyph + content.slice(1);
        } else if (index === 1 && note !== undefined) {
          text.textContent = note || " ";
        }
      });
    }
  }

  function mark() {
    for (const g of graph.querySelectorAll("g.node.argo-selected")) {
      g.classList.remove("argo-selected");
    }
    const chosen = byId.get(model.get("selected"));
    if (chosen) chosen.classList.add("argo-selected");
    for (const g of graph.querySelectorAll("g.node.argo-failed-first")) {
      g.classList.remove("argo-failed-first");
    }
    const failed = byId.get(((model.get("header") || {}).failure || {}).id);
    if (failed) failed.classList.add("argo-failed-first");
  }

  function drawSvg() {
    graph.innerHTML = model.get("svg") || "";
    byId = new Map();
    const phases = model.get("phases") || {};
    for (const g of graph.querySelectorAll("g.node")) {
      if (g.id in phases && !byId.has(g.id)) byId.set(g.id, g);
    }
    paint();
    mark();
  }

  function tick() {
    const h = model.get("header") || {};
    const started = Date.parse(h.startedAt || "");
    if (!h.finishedAt && !Number.isNaN(started)) {
      duration.textContent = formatDuration((Date.now() - started) / 1000);
    } else {
      duration.textContent = h.duration || "";
    }
  }

  function drawHeader() {
    const h = model.get("header") || {};
    phase.replaceChildren(badge(model, h.phase));
    title.textContent = h.namespace ? `${h.namespace}/${h.name}` : h.name || "";
    progress.textContent = h.progress || "";
    message.textContent = h.message || "";
    message.hidden = !h.message;
    warnings.replaceChildren(
      ...(h.warnings || []).map((text) => element("div", "argo-warning", `⚠ ${text}`)),
    );
    warnings.hidden = !(h.warnings || []).length;
    drawFailure(h.failure);
    tick();
  }

  // The first failed step, its message and log tail: shown without a click.
  function drawFailure(f) {
    failure.replaceChildren();
    failure.hidden = !f;
    if (!f) return;
    const line = element("div", "argo-failure-line");
    const name = element("a", "argo-failure-name", f.name);
    name.href = "#";
    name.title = "Show this step's details";
    name.addEventListener("click", (event) => {
      event.preventDefault();
      model.set("selected", f.id);
      model.save_changes();
    });
    line.append(badge(model, f.phase), name);
    if (f.message) line.append(element("span", "", f.message));
    if (f.failed > 1) line.append(element("span", "argo-muted", `(${f.failed} steps failed)`));
    failure.append(line);
    if (f.log) failure.append(element("pre", "argo-log", f.log));
    mark();
  }

  function drawDetail() {
    const d = model.get("detail") || {};
    detail.replaceChildren();
    detail.hidden = !d.id;
    if (!d.id) return;
    const top = element("div", "argo-detail-head");
    const close = element("button", "argo-close", "×");
    close.title = "Close";
    close.addEventListener("click", () => {
      model.set("selected", "");
      model.save_changes();
    });
    top.append(badge(model, d.phase), element("strong", "", d.displayName || d.name));
    const facts = [d.type, d.template && `template ${d.template}`, d.duration].filter(Boolean);
    top.append(element("span", "argo-muted", facts.join(" · ")), close);
    detail.append(top);
    if (d.message) detail.append(element("div", "argo-message", d.message));
    const columns = element("div", "argo-columns");
    columns.append(ioSection("Inputs", d.inputs), ioSection("Outputs", d.outputs));
    detail.append(columns);
    if (d.log) {
      detail.append(element("h4", "", "Log (tail)"));
      const log = element("pre", "argo-log", d.log);
      detail.append(log);
      log.scrollTop = log.scrollHeight;
    }
  }

  graph.addEventListener("click", (event) => {
    const g = event.target.closest && event.target.closest("g.node");
    if (!g || !byId.has(g.id)) return;
    model.set("selected", model.get("selected") === g.id ? "" : g.id);
    model.save_changes();
  });
  zoom.addEventListener("click", () => {
    const fit = graph.classList.toggle("argo-fit");
    zoom.textContent = fit ? "1:1" : "fit";
  });

  model.on("change:svg", drawSvg);
  model.on("change:phases", paint);
  model.on("change:notes", paint);
  model.on("change:palette", paint);
  model.on("change:selected", mark);
  model.on("change:header", drawHeader);
  model.on("change:detail", drawDetail);
  drawHeader();
  drawSvg();
  drawDetail();
  // Tells the kernel a widget frontend draws views (else its final output is static).
  model.send({ event: "rendered" });
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

export default { render };
