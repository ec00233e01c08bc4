// The browser half of jupyter_argo.widgets.WorkflowView (an anywidget ES module).
//
// Python sends: `svg` (a new layout, only when the structure changed) with its `legend`,
// `index` ({group id: [[node id, name], ...]}, the nodes each group folds) and `names`
// ({node id: display name} of the drawn ones); on every update `phases` ({node id:
// phase}), `notes` ({group id: counts}), `groups` ({group id: {name, parent, members,
// nodes, counts, failed, running}}), `header` (with `problems` and `foldable`, the
// unfolded fan-outs) and `detail`; `palette` ({phase: {fill, text, glyph}}) and
// `_memory_key` once; `backend` and `artifacts` ({node id: its artifacts}) for the
// artifact panel, whose previews come from the server extension. We send back `selected`,
// `expanded` (the nodes whose fan-out is unfolded), a `rendered` message each time a
// view is drawn, and `action` messages from the buttons (`header.actions` says which the
// run offers; a suspended node's `resume` lists its form's fields). The kernel answers an
// action on a subshell, so the buttons work while a cell blocks it.
// A phase-only change repaints nodes in place: no new SVG, no layout. Zoom, pan, fit, the
// minimap, search and the phase filter work on the SVG's viewBox and classes, here in the
// browser, with no round-trip to the kernel.
// Text from the workflow is only ever set with textContent; the SVG comes from
// Graphviz, which escapes the labels it draws.

const PX_PER_PT = 4 / 3; // 1:1 draws one SVG point as 4/3 CSS pixels
const MIN_SCALE = 0.02;
const MAX_SCALE = 8;
const STEP = 1.25; // one zoom button press
const CULL = 200; // nodes from which labels out of sight are not drawn
const FAR = 0.5; // px per SVG unit below which labels (10 pt: under 5 px) are hidden
const LISTED = 8; // failed or running items listed per group before "and N more"
const RESULTS = 50; // search results listed
// Node types that are work (what progress and a group's counts count).
const WORK = new Set(["Pod", "Container", "HTTP", "Plugin", "Suspend", "Skipped"]);
// The Argo UI's filter lists these phases (NODE_PHASE, and Suspended for suspend nodes).
const PHASES = ["Pending", "Running", "Suspended", "Succeeded", "Failed", "Error", "Skipped", "Omitted"];

// What the user did to each widget's graph (zoom, pan, search, filter), by `_memory_key`:
// a display re-published when a run ends renders a new view, which picks up from here.
const memory = new Map();
// Each widget's action in flight and the answer to its last one, by `_memory_key`: a view
// drawn anew (the run's end re-publishes the display) keeps them.
const acting = new Map();

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

function button(className, text, title) {
  const node = element("button", className, text);
  node.type = "button";
  if (title) node.title = title;
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

function ioSection(title, io, listed) {
  const section = element("div", "argo-section");
  section.append(element("h4", "", title));
  const parameters = (io && io.parameters) || [];
  // Artifacts listed in their own section (with previews) are not repeated here.
  const artifacts = listed ? [] : (io && io.artifacts) || [];
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

// Artifacts -------------------------------------------------------------------------------
// Previews come from the Jupyter server extension (jupyter_argo/server.py), not the
// kernel, so they show while a cell keeps the kernel busy. The server decides what a file
// is; HTML and SVG are only ever shown inside an iframe with sandbox="" (no scripts, no
// same origin), images through <img>, text with textContent.

const ARTIFACT_ROUTE = "jupyter-argo/artifact";
const previews = new Map(); // url -> Promise of the preview (or {error})

function serverBase() {
  const config = document.getElementById("jupyter-config-data");
  let base = "/";
  try {
    if (config) base = JSON.parse(config.textContent || "{}").baseUrl || "/";
  } catch (err) {
    base = "/";
  }
  return base.endsWith("/") ? base : `${base}/`;
}

function artifactUrl(model, nodeId, artifact, view) {
  const h = model.get("header") || {};
  const query = new URLSearchParams({
    backend: model.get("backend") || "local",
    namespace: h.namespace || "",
    workflow: h.name || "",
    node: nodeId,
    io: artifact.io,
    artifact: artifact.name,
    view,
  });
  return `${serverBase()}${ARTIFACT_ROUTE}?${query}`;
}

async function askServer(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch (err) {
    return { error: "no preview: this frontend has no jupyter-argo server extension" };
  }
  const body = await response.json().catch(() => null);
  if (body && (body.kind || body.error)) return body;
  return { error: `no preview (the server answered ${response.status})` };
}

function fetchPreview(url) {
  if (!previews.has(url)) {
    const found = askServer(url);
    found.then((body) => {
      if (body.error) setTimeout(() => previews.delete(url), 2000); // try again later
    });
    previews.set(url, found);
  }
  return previews.get(url);
}

function sizeWords(size) {
  if (size < 1024) return `${size} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = size;
  for (const unit of units) {
    value /= 1024;
    if (value < 1024 || unit === "GB") return `${value.toFixed(1)} ${unit}`;
  }
  return `${size} bytes`;
}

const READERS = { table: ".to_pandas()", json: ".json()", image: ".bytes()", binary: ".bytes()", directory: ".path()" };

function showPreview(box, model, nodeId, artifact, found) {
  const { size, kind, note, error } = found;
  const facts = box.querySelector(".argo-artifact-size");
  const code = box.querySelector(".argo-artifact-python");
  const body = box.querySelector(".argo-artifact-preview");
  body.replaceChildren();
  if (error) {
    body.append(element("div", "argo-muted argo-artifact-error", error));
    return;
  }
  facts.textContent = kind === "directory" ? `${sizeWords(size)} in all` : sizeWords(size);
  if (kind === "directory") box.querySelector(".argo-artifact-download")?.remove();
  code.textContent = `${artifact.python}${READERS[kind] || ".text()"}`;
  if (kind === "table") {
    const grid = element("table", "argo-table argo-artifact-table");
    const [head, ...rows] = found.rows || [];
    if (head) {
      const row = grid.createTHead().insertRow();
      for (const value of head) row.append(element("th", "", value));
    }
    const tbody = grid.createTBody();
    for (const values of rows) {
      const row = tbody.insertRow();
      for (const value of values) row.insertCell().textContent = value;
    }
    body.append(grid);
  } else if (kind === "text" || kind === "json") {
    body.append(element("pre", "argo-log argo-artifact-text", found.text || ""));
  } else if (kind === "image") {
    const img = element("img", "argo-artifact-image");
    img.alt = artifact.name;
    img.src = artifactUrl(model, nodeId, artifact, "raw");
    body.append(img);
  } else if (kind === "html" || kind === "svg") {
    const frame = element("iframe", "argo-artifact-frame");
    frame.setAttribute("sandbox", "");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.title = artifact.name;
    frame.src = artifactUrl(model, nodeId, artifact, "raw");
    body.append(frame);
  } else if (kind === "directory") {
    body.append(element("pre", "argo-log argo-artifact-text", (found.files || []).join("\n")));
  }
  if (note) body.append(element("div", "argo-muted argo-artifact-note", note));
}

function artifactsSection(model, nodeId, artifacts) {
  const section = element("div", "argo-section argo-artifacts");
  const names = model.get("names") || {};
  section.append(element("h4", "", `Artifacts of ${names[nodeId] || nodeId}`));
  for (const artifact of artifacts) {
    const box = element("div", "argo-artifact");
    const line = element("div", "argo-artifact-line");
    const name = element("strong", "argo-artifact-name", artifact.name);
    const io = element("span", "argo-muted", artifact.io === "inputs" ? "input" : "output");
    const size = element("span", "argo-artifact-size argo-muted");
    const where = element("span", "argo-artifact-location argo-muted", artifact.location);
    const download = element("a", "argo-artifact-download", "download");
    download.href = artifactUrl(model, nodeId, artifact, "download");
    download.setAttribute("download", "");
    download.rel = "noopener";
    line.append(name, io, size, where, download);
    const code = element("code", "argo-artifact-python", `${artifact.python}.text()`);
    code.title = "Reads it in Python";
    const body = element("div", "argo-artifact-preview argo-muted", "loading preview…");
    box.append(line, code, body);
    section.append(box);
    fetchPreview(artifactUrl(model, nodeId, artifact, "preview")).then((found) =>
      showPreview(box, model, nodeId, artifact, found),
    );
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
  const message = element("div", "argo-message");
  const warnings = element("div", "argo-warnings");
  const problems = element("div", "argo-problems");
  const failure = element("div", "argo-failure");
  const actionsBar = element("span", "argo-actions");
  const actionNote = element("span", "argo-action-note argo-muted");
  head.append(phase, title, progress, duration, actionsBar, actionNote);

  // Toolbar: search, phase filter, zoom.
  const tools = element("div", "argo-tools");
  const search = element("input", "argo-search");
  search.type = "search";
  search.placeholder = "Search nodes";
  search.setAttribute("aria-label", "Search nodes by name");
  const found = element("span", "argo-found argo-muted");
  const filters = element("span", "argo-filters");
  const zoomOut = button("argo-zoom-out", "−", "Zoom out (or Ctrl + wheel, pinch)");
  const zoomLevel = element("span", "argo-zoom-level argo-muted");
  const zoomIn = button("argo-zoom-in", "+", "Zoom in (or Ctrl + wheel, pinch)");
  const fit = button("argo-fit", "fit", "Fit the whole graph");
  const natural = button("argo-natural", "1:1", "Natural size");
  const zooms = element("span", "argo-zooms");
  zooms.append(zoomOut, zoomLevel, zoomIn, fit, natural);
  tools.append(search, found, filters, zooms);
  const results = element("div", "argo-results");
  results.hidden = true;
  const groupsPanel = element("div", "argo-groups");

  const viewport = element("div", "argo-graph");
  viewport.tabIndex = 0;
  const minimap = element("canvas", "argo-minimap");
  minimap.title = "Overview: click or drag to move";
  const hint = element("div", "argo-hint", "Ctrl + wheel or pinch to zoom · drag to pan");
  hint.hidden = true;
  viewport.append(minimap, hint);
  const legend = element("div", "argo-legend");
  const detail = element("div", "argo-detail");
  el.append(head, message, warnings, problems, failure, tools, results, groupsPanel);
  const artifactsPanel = element("div", "argo-artifacts-panel");
  artifactsPanel.hidden = true;
  el.append(viewport, legend, detail, artifactsPanel);

  let svg = null; // the graph's <svg>
  let byId = new Map(); // node id -> its <g>
  let bounds = new Map(); // node id -> [x, y, w, h] in SVG units
  let ownerOf = new Map(); // folded node id -> its group id
  let width = 1; // the graph's size in SVG units
  let height = 1;
  const key = model.get("_memory_key") || "";
  const kept = memory.get(key);
  let view = kept ? { ...kept.view } : null; // {scale (px per unit), x, y: top left unit}
  let fitted = kept ? kept.fitted : true; // follow the graph's size until the user zooms or pans
  let restored = Boolean(kept);
  let glyphs = new Set();
  const wanted = new Set(kept ? kept.wanted : []); // phases the filter keeps; empty keeps all
  if (kept) search.value = kept.query;

  function remember() {
    if (key && view) memory.set(key, { view: { ...view }, fitted, query: search.value, wanted: [...wanted] });
  }
  let matches = []; // search results: [{id, name, group}]
  let current = -1;

  // Zoom and pan ----------------------------------------------------------------------

  function box() {
    return { w: viewport.clientWidth || 600, h: viewport.clientHeight || 300 };
  }

  function fitScale() {
    const { w, h } = box();
    return Math.min(PX_PER_PT, (w - 8) / width, (h - 8) / height);
  }

  function apply() {
    if (!svg || !view) return;
    const { w, h } = box();
    const x = view.x, y = view.y, vw = w / view.scale, vh = h / view.scale;
    svg.setAttribute("viewBox", `${x.toFixed(2)} ${y.toFixed(2)} ${vw.toFixed(2)} ${vh.toFixed(2)}`);
    // Labels under 5 px cannot be read, and drawing text is most of a frame's work.
    viewport.classList.toggle("argo-far", view.scale < FAR);
    cull(x, y, vw, vh);
    remember();
    zoomLevel.textContent = `${Math.round((view.scale / PX_PER_PT) * 100)}%`;
    drawMinimap(false);
  }

  // Wheel, pinch and drag move the view once per frame, however many events come in it;
  // the end of a drag shows where it ended at once.
  let pending = 0;
  function applySoon() {
    if (!pending) pending = requestAnimationFrame(() => ((pending = 0), apply()));
  }
  function applyNow() {
    if (!pending) return;
    cancelAnimationFrame(pending);
    pending = 0;
    apply();
  }

  function cull(x, y, vw, vh) {
    // Labels of nodes out of sight are not drawn: with hundreds of nodes, text is the cost.
    if (bounds.size < CULL) return;
    for (const [id, b] of bounds) {
      const out = b[0] > x + vw || b[0] + b[2] < x || b[1] > y + vh || b[1] + b[3] < y;
      const g = byId.get(id);
      if (g && g.classList.contains("argo-out") !== out) g.classList.toggle("argo-out", out);
    }
  }

  function clamp() {
    // Keep some of the graph in sight: the viewport's centre stays over the graph.
    const { w, h } = box();
    const cx = Math.min(Math.max(view.x + w / view.scale / 2, 0), width);
    const cy = Math.min(Math.max(view.y + h / view.scale / 2, 0), height);
    view.x = cx - w / view.scale / 2;
    view.y = cy - h / view.scale / 2;
  }

  function zoomTo(scale, px, py, soon = false) {
    // Zoom about the viewport point (px, py), in CSS pixels from its top left.
    const { w, h } = box();
    if (px === undefined) [px, py] = [w / 2, h / 2];
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
    const ux = view.x + px / view.scale, uy = view.y + py / view.scale;
    view = { scale: next, x: ux - px / next, y: uy - py / next };
    fitted = false;
    clamp();
    if (soon) applySoon();
    else apply();
  }

  function fitAll() {
    const { w, h } = box();
    const scale = fitScale();
    view = { scale, x: (width - w / scale) / 2, y: (height - h / scale) / 2 };
    fitted = true;
    apply();
  }

  function centreOn(id) {
    const b = bounds.get(id);
    if (!b || !view) return;
    const { w, h } = box();
    if (view.scale < 0.5) view.scale = Math.min(PX_PER_PT, Math.max(view.scale, 0.75));
    view.x = b[0] + b[2] / 2 - w / view.scale / 2;
    view.y = b[1] + b[3] / 2 - h / view.scale / 2;
    fitted = false;
    apply();
  }

  function sizeViewport() {
    // As tall as the graph at fit-to-width, within [200 px, 70% of the window].
    const w = viewport.clientWidth || 600;
    const scale = Math.min(PX_PER_PT, (w - 8) / width);
    const most = Math.max(240, Math.min(720, window.innerHeight * 0.7));
    viewport.style.height = `${Math.round(Math.min(most, Math.max(200, height * scale + 8)))}px`;
  }

  viewport.addEventListener(
    "wheel",
    (event) => {
      if (!view) return;
      if (!(event.ctrlKey || event.metaKey)) {
        hint.hidden = false;
        clearTimeout(hint.timer);
        hint.timer = setTimeout(() => (hint.hidden = true), 1200);
        return; // the page scrolls
      }
      event.preventDefault();
      const dy = event.deltaY * (event.deltaMode === 1 ? 16 : 1);
      const rect = viewport.getBoundingClientRect();
      const factor = Math.exp(-Math.max(-300, Math.min(300, dy)) * 0.0025);
      zoomTo(view.scale * factor, event.clientX - rect.left, event.clientY - rect.top, true);
    },
    { passive: false },
  );

  const pointers = new Map();
  let drag = null; // {x, y, viewX, viewY, moved}
  let pinch = null; // {distance, scale}
  let suppressClick = false;

  viewport.addEventListener("pointerdown", (event) => {
    if (!view || event.target === minimap || event.button !== 0) return;
    suppressClick = false; // a drag that ended outside left no click to swallow
    pointers.set(event.pointerId, [event.clientX, event.clientY]);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { distance: Math.hypot(a[0] - b[0], a[1] - b[1]), scale: view.scale };
      drag = null;
    } else {
      drag = { x: event.clientX, y: event.clientY, viewX: view.x, viewY: view.y, moved: false };
    }
  });
  viewport.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, [event.clientX, event.clientY]);
    if (pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const rect = viewport.getBoundingClientRect();
      const ratio = Math.hypot(a[0] - b[0], a[1] - b[1]) / (pinch.distance || 1);
      zoomTo(pinch.scale * ratio, (a[0] + b[0]) / 2 - rect.left, (a[1] + b[1]) / 2 - rect.top, true);
      return;
    }
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) {
      drag.moved = true;
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add("argo-panning");
    }
    view.x = drag.viewX - dx / view.scale;
    view.y = drag.viewY - dy / view.scale;
    fitted = false;
    clamp();
    applySoon();
  });
  function release(event) {
    applyNow();
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
    if (drag && drag.moved) suppressClick = true;
    drag = null;
    viewport.classList.remove("argo-panning");
  }
  viewport.addEventListener("pointerup", release);
  viewport.addEventListener("pointercancel", release);

  viewport.addEventListener("click", (event) => {
    if (suppressClick) {
      suppressClick = false;
      return;
    }
    const g = event.target.closest && event.target.closest("g.node");
    if (!g || !byId.has(g.id)) return;
    select(model.get("selected") === g.id ? "" : g.id);
  });

  viewport.addEventListener("keydown", (event) => {
    if (!view || event.ctrlKey || event.metaKey || event.altKey) return;
    const { w, h } = box();
    const pan = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (pan) {
      view.x += (pan[0] * w) / 4 / view.scale;
      view.y += (pan[1] * h) / 4 / view.scale;
      fitted = false;
      clamp();
      apply();
    } else if (event.key === "+" || event.key === "=") zoomTo(view.scale * STEP);
    else if (event.key === "-") zoomTo(view.scale / STEP);
    else if (event.key === "0") fitAll();
    else return;
    event.preventDefault();
    event.stopPropagation(); // not a notebook shortcut
  });
  zoomIn.addEventListener("click", () => view && zoomTo(view.scale * STEP));
  zoomOut.addEventListener("click", () => view && zoomTo(view.scale / STEP));
  fit.addEventListener("click", () => view && fitAll());
  natural.addEventListener("click", () => view && zoomTo(PX_PER_PT));
  let lastWidth = 0;
  new ResizeObserver(() => {
    // After this frame: resizing the observed element from its own callback would loop.
    requestAnimationFrame(() => {
      // Hidden (JupyterLab hides the page while it changes theme): nothing to fit to, and
      // fitting to a guessed size would stick; the next resize, when shown, fits again.
      if (!view || viewport.clientWidth === 0) return;
      if (viewport.clientWidth !== lastWidth) {
        lastWidth = viewport.clientWidth;
        sizeViewport();
      }
      if (!bounds.size) {
        measure();
        drawFoldMarks();
      }
      if (fitted) fitAll();
      else apply();
    });
  }).observe(viewport);

  // The minimap: every node as a dot in its phase's colour, and the visible area.
  function minimapShape() {
    const most = 180;
    const ratio = Math.min(most / width, 120 / height);
    return { w: Math.max(40, width * ratio), h: Math.max(24, height * ratio), ratio };
  }

  // The minimap's dots, drawn again only when nodes, phases or the filter change (`fresh`):
  // a zoom or a pan copies them and moves the frame.
  let dots = null;
  let frameColour = "";
  function drawMinimap(fresh = true) {
    const { w, h } = box();
    const whole = view && width * view.scale <= w + 1 && height * view.scale <= h + 1;
    const shown = !minimap.hidden;
    minimap.hidden = !view || whole || bounds.size === 0;
    if (minimap.hidden) return;
    const shape = minimapShape();
    const dpr = window.devicePixelRatio || 1;
    if (minimap.width !== Math.round(shape.w * dpr)) minimap.width = Math.round(shape.w * dpr);
    if (minimap.height !== Math.round(shape.h * dpr)) minimap.height = Math.round(shape.h * dpr);
    minimap.style.width = `${shape.w}px`;
    minimap.style.height = `${shape.h}px`;
    if (fresh || !shown || !dots || dots.width !== minimap.width || dots.height !== minimap.height) {
      dots = document.createElement("canvas");
      dots.width = minimap.width;
      dots.height = minimap.height;
      const d = dots.getContext("2d");
      d.setTransform(dpr, 0, 0, dpr, 0, 0);
      const phases = model.get("phases") || {};
      for (const [id, b] of bounds) {
        d.fillStyle = styleFor(model, phases[id]).fill;
        d.globalAlpha = byId.get(id)?.classList.contains("argo-dim") ? 0.25 : 1;
        d.fillRect(b[0] * shape.ratio, b[1] * shape.ratio, Math.max(1.5, b[2] * shape.ratio), Math.max(1.5, b[3] * shape.ratio));
      }
      frameColour = getComputedStyle(minimap).color || "#1e2a33";
    }
    const ctx = minimap.getContext("2d");
    // Transparent: the canvas's CSS background (the theme's) shows through.
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, minimap.width, minimap.height);
    ctx.drawImage(dots, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.strokeStyle = frameColour;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(view.x * shape.ratio, view.y * shape.ratio, (w / view.scale) * shape.ratio, (h / view.scale) * shape.ratio);
  }

  function minimapMove(event) {
    const shape = minimapShape();
    const rect = minimap.getBoundingClientRect();
    const { w, h } = box();
    view.x = (event.clientX - rect.left) / shape.ratio - w / view.scale / 2;
    view.y = (event.clientY - rect.top) / shape.ratio - h / view.scale / 2;
    fitted = false;
    clamp();
    apply();
  }
  minimap.addEventListener("pointerdown", (event) => {
    event.stopPropagation();
    minimap.setPointerCapture(event.pointerId);
    minimapMove(event);
  });
  minimap.addEventListener("pointermove", (event) => {
    if (minimap.hasPointerCapture(event.pointerId)) minimapMove(event);
  });
  minimap.addEventListener("click", (event) => event.stopPropagation());

  // Drawing ---------------------------------------------------------------------------

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
      // The hover text: Graphviz's <title> holds the DOT name (n17); say what it is instead.
      const tip = g.querySelector("title");
      if (tip) {
        const group = (model.get("groups") || {})[id];
        tip.textContent = group
          ? `${group.name || "group"}: ${group.members} folded · ${note || ""} (click to unfold)`
          : `${nodeName(id) || id} · ${nodePhase || "not started"}`;
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
    filter();
  }

  function mark() {
    for (const g of viewport.querySelectorAll("g.node.argo-selected")) {
      g.classList.remove("argo-selected");
    }
    const selected = model.get("selected");
    const chosen = byId.get(selected) || byId.get(ownerOf.get(selected));
    if (chosen) chosen.classList.add("argo-selected");
    for (const g of viewport.querySelectorAll("g.node.argo-failed-first")) {
      g.classList.remove("argo-failed-first");
    }
    const failedId = ((model.get("header") || {}).failure || {}).id;
    const failed = byId.get(failedId) || byId.get(ownerOf.get(failedId));
    if (failed) failed.classList.add("argo-failed-first");
  }

  function measure() {
    // Each node's box in SVG units, for the minimap and for centring on a node.
    bounds = new Map();
    const ctm = svg.getScreenCTM();
    if (!ctm) return;
    const inverse = ctm.inverse();
    const point = svg.createSVGPoint();
    for (const [id, g] of byId) {
      const r = g.getBoundingClientRect();
      if (!r.width && !r.height) continue;
      point.x = r.left;
      point.y = r.top;
      const a = point.matrixTransform(inverse);
      point.x = r.right;
      point.y = r.bottom;
      const b = point.matrixTransform(inverse);
      bounds.set(id, [a.x, a.y, b.x - a.x, b.y - a.y]);
    }
  }

  function anchor() {
    // The node nearest the middle of the view, and where it is from the middle: a new
    // layout puts that node (or, for an unfolded group, its parent) back in the same place.
    if (!view) return null;
    const { w, h } = box();
    const cx = view.x + w / view.scale / 2, cy = view.y + h / view.scale / 2;
    let best = null;
    let distance = Infinity;
    for (const [id, b] of bounds) {
      const d = Math.hypot(b[0] + b[2] / 2 - cx, b[1] + b[3] / 2 - cy);
      if (d < distance) [best, distance] = [id, d];
    }
    if (best === null) return { id: "", cx, cy, dx: 0, dy: 0 };
    const b = bounds.get(best);
    return { id: best, cx, cy, dx: b[0] + b[2] / 2 - cx, dy: b[1] + b[3] / 2 - cy };
  }

  function drawSvg() {
    const old = anchor();
    for (const child of [...viewport.children]) {
      if (child !== minimap && child !== hint) child.remove();
    }
    const holder = document.createElement("div");
    holder.innerHTML = model.get("svg") || "";
    svg = holder.querySelector("svg");
    byId = new Map();
    if (!svg) {
      view = null;
      return;
    }
    const numbers = (svg.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
    width = numbers.length === 4 && numbers[2] > 0 ? numbers[2] : 100;
    height = numbers.length === 4 && numbers[3] > 0 ? numbers[3] : 100;
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    svg.classList.add("argo-svg");
    viewport.prepend(svg);
    const phases = model.get("phases") || {};
    for (const g of svg.querySelectorAll("g.node")) {
      if (g.id in phases && !byId.has(g.id)) byId.set(g.id, g);
    }
    sizeViewport();
    if (!view || fitted) {
      fitAll();
    } else if (restored) {
      apply(); // as the user left it in the view this one replaces
    } else {
      // A new layout keeps the zoom and, where it can, the node that was in the middle.
      const { w, h } = box();
      view.x = old.cx - w / view.scale / 2;
      view.y = old.cy - h / view.scale / 2;
      apply();
      measure();
      const b = bounds.get(old.id) || bounds.get(old.id.replace(/\/more$/, ""));
      if (b) {
        view.x = b[0] + b[2] / 2 - old.dx - w / view.scale / 2;
        view.y = b[1] + b[3] / 2 - old.dy - h / view.scale / 2;
      }
      clamp();
      apply();
    }
    measure();
    paint();
    mark();
    drawMinimap();
    drawFoldMarks();
  }

  // On the graph, next to each unfolded fan-out's parent: a button that folds it again.
  function drawFoldMarks() {
    if (!svg) return;
    for (const old of svg.querySelectorAll("g.argo-fold-mark")) old.remove();
    const foldable = (model.get("header") || {}).foldable || {};
    const ns = "http://www.w3.org/2000/svg";
    for (const [parent, fan] of Object.entries(foldable)) {
      const b = bounds.get(parent);
      if (!b) continue;
      const mark = document.createElementNS(ns, "g");
      mark.setAttribute("class", "argo-fold-mark");
      mark.dataset.id = parent;
      const label = `⊟ fold ${fan.items}`;
      const w = 7 + label.length * 5.2, h = 13;
      const x = b[0] + b[2] + 4, y = b[1] + b[3] / 2 - h / 2;
      const rect = document.createElementNS(ns, "rect");
      for (const [k, v] of Object.entries({ x, y, width: w, height: h, rx: 3 })) rect.setAttribute(k, v);
      const text = document.createElementNS(ns, "text");
      for (const [k, v] of Object.entries({ x: x + 4, y: y + h - 3.5 })) text.setAttribute(k, v);
      text.textContent = label;
      const tip = document.createElementNS(ns, "title");
      tip.textContent = `Fold the ${fan.items} items of ${fan.name || "this fan-out"} again`;
      mark.append(tip, rect, text);
      mark.addEventListener("click", (event) => {
        event.stopPropagation();
        setExpanded((model.get("expanded") || []).filter((n) => n !== parent));
      });
      svg.append(mark);
    }
  }

  function drawLegend() {
    legend.innerHTML = model.get("legend") || "";
  }

  function drawIndex() {
    ownerOf = new Map();
    for (const [group, members] of Object.entries(model.get("index") || {})) {
      for (const [id] of members) ownerOf.set(id, group);
    }
    mark();
    runSearch();
  }

  // Search and filter, as the Argo UI's graph panel: a node matching the search shows
  // whatever the filter says; otherwise it shows only if its phase is checked.

  function nodeName(id) {
    const name = (model.get("names") || {})[id];
    if (name !== undefined) return name;
    const g = byId.get(id);
    return g ? [...g.querySelectorAll("text")].map((t) => t.textContent || "").join(" ").slice(2) : "";
  }

  function keeps(id) {
    if (!wanted.size) return true;
    const group = (model.get("groups") || {})[id];
    if (group) return Object.keys(group.counts || {}).some((p) => wanted.has(p));
    return wanted.has((model.get("phases") || {})[id] || "");
  }

  function filter() {
    const query = search.value.trim().toLowerCase();
    const hits = new Set(matches.map((m) => m.group || m.id));
    for (const [id, g] of byId) {
      const hit = query && hits.has(id);
      g.classList.toggle("argo-match", Boolean(hit));
      g.classList.toggle("argo-dim", !hit && (Boolean(query) || !keeps(id)));
    }
    drawFilters();
    drawGroups();
    if (view) drawMinimap();
    remember();
  }

  function runSearch() {
    const query = search.value.trim().toLowerCase();
    matches = [];
    current = -1;
    if (query) {
      for (const id of byId.keys()) {
        if ((model.get("groups") || {})[id]) continue;
        const name = nodeName(id);
        if (name.toLowerCase().includes(query) || id.toLowerCase() === query) {
          matches.push({ id, name, group: "" });
        }
      }
      for (const [group, members] of Object.entries(model.get("index") || {})) {
        for (const [id, name] of members) {
          if (name.toLowerCase().includes(query) || id.toLowerCase() === query) {
            matches.push({ id, name, group });
          }
        }
      }
    }
    const folded = matches.filter((m) => m.group).length;
    found.textContent = query
      ? `${matches.length - folded} drawn, ${folded} folded` : "";
    results.replaceChildren();
    results.hidden = !query || !matches.length;
    for (const match of matches.slice(0, RESULTS)) {
      const link = element("a", "argo-result", match.name);
      link.href = "#";
      link.dataset.id = match.id;
      if (match.group) {
        const group = (model.get("groups") || {})[match.group] || {};
        link.append(element("span", "argo-muted", ` (folded in ${group.name || "a group"})`));
      }
      link.addEventListener("click", (event) => {
        event.preventDefault();
        go(matches.indexOf(match));
      });
      results.append(link);
    }
    if (matches.length > RESULTS) {
      results.append(element("span", "argo-muted", `and ${matches.length - RESULTS} more`));
    }
    filter();
  }

  function go(index) {
    if (!matches.length) return;
    current = ((index % matches.length) + matches.length) % matches.length;
    const match = matches[current];
    select(match.id);
    centreOn(match.group || match.id);
  }

  function select(id) {
    model.set("selected", id);
    model.save_changes();
  }

  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", (event) => {
    event.stopPropagation(); // keys typed here are not notebook shortcuts
    if (event.key === "Enter") go(current + (event.shiftKey ? -1 : 1));
    if (event.key === "Escape") {
      search.value = "";
      runSearch();
    }
  });

  function drawFilters() {
    // One chip per phase present, with how much work (pods and the like, as groups count
    // them) is in it, drawn or folded.
    const counts = {};
    const groups = model.get("groups") || {};
    for (const [id, p] of Object.entries(model.get("phases") || {})) {
      const g = byId.get(id);
      if (!g || ![...g.classList].some((c) => WORK.has(c))) continue;
      counts[p] = (counts[p] || 0) + 1;
    }
    for (const group of Object.values(groups)) {
      for (const [p, n] of Object.entries(group.counts || {})) counts[p] = (counts[p] || 0) + n;
    }
    const key = JSON.stringify([counts, [...wanted]]);
    if (filters.dataset.key === key) return;
    filters.dataset.key = key;
    filters.replaceChildren();
    for (const p of PHASES) {
      if (!counts[p] && !wanted.has(p)) continue;
      const style = styleFor(model, p);
      const chip = button("argo-chip", `${style.glyph} ${p} ${counts[p] || 0}`, `Show only ${p} nodes (toggle)`);
      chip.dataset.phase = p;
      chip.classList.toggle("argo-on", wanted.has(p));
      if (wanted.has(p)) {
        chip.style.background = style.fill;
        chip.style.color = style.text;
      }
      chip.addEventListener("click", () => {
        if (wanted.has(p)) wanted.delete(p);
        else wanted.add(p);
        filter();
      });
      filters.append(chip);
    }
  }

  // Folded fan-outs: counts by phase, failed and running items, unfold; unfolded ones: fold.

  function setExpanded(ids) {
    model.set("expanded", [...new Set(ids)].sort());
    model.save_changes();
  }

  function itemLinks(label, items, total, phaseName) {
    const line = element("div", `argo-items argo-items-${phaseName}`);
    line.append(badge(model, phaseName), element("span", "argo-muted", ` ${label}: `));
    items.slice(0, LISTED).forEach(([id, name], index) => {
      if (index) line.append(", ");
      const link = element("a", "argo-item", name);
      link.href = "#";
      link.dataset.id = id;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        select(id);
      });
      line.append(link);
    });
    if (total > LISTED) line.append(element("span", "argo-muted", ` and ${total - LISTED} more`));
    return line;
  }

  function drawGroups() {
    const groups = model.get("groups") || {};
    const foldable = (model.get("header") || {}).foldable || {};
    const key = JSON.stringify([groups, foldable, [...wanted]]);
    if (groupsPanel.dataset.key === key) return;
    groupsPanel.dataset.key = key;
    groupsPanel.replaceChildren();
    for (const [gid, group] of Object.entries(groups)) {
      const row = element("div", "argo-group");
      row.dataset.id = gid;
      const line = element("div", "argo-group-line");
      const name = element("a", "argo-group-name", `${group.name || "group"}`);
      name.href = "#";
      name.title = "Show this group in the graph";
      name.addEventListener("click", (event) => {
        event.preventDefault();
        centreOn(gid);
      });
      line.append(name, element("span", "argo-muted", `${group.members} folded`));
      for (const p of PHASES) {
        const n = (group.counts || {})[p];
        if (!n) continue;
        const chip = badge(model, p);
        chip.textContent = `${styleFor(model, p).glyph} ${n} ${p}`;
        chip.classList.add("argo-count");
        chip.dataset.phase = p;
        line.append(chip);
      }
      const open = button("argo-unfold", "unfold", "Draw every item of this fan-out");
      open.addEventListener("click", () => setExpanded([...(model.get("expanded") || []), group.parent]));
      line.append(open);
      row.append(line);
      const counts = group.counts || {};
      const failedTotal = (counts.Failed || 0) + (counts.Error || 0);
      const show = (p) => !wanted.size || wanted.has(p);
      if (failedTotal && (show("Failed") || show("Error"))) {
        row.append(itemLinks("failed", group.failed || [], failedTotal, "Failed"));
      }
      if (counts.Running && show("Running")) {
        row.append(itemLinks("running", group.running || [], counts.Running, "Running"));
      }
      groupsPanel.append(row);
    }
    for (const [parent, fan] of Object.entries(foldable)) {
      const row = element("div", "argo-group argo-unfolded");
      row.dataset.id = parent;
      const close = button("argo-fold", "fold", "Fold this fan-out again");
      close.addEventListener("click", () => setExpanded((model.get("expanded") || []).filter((n) => n !== parent)));
      row.append(element("strong", "", fan.name || "fan-out"));
      row.append(element("span", "argo-muted", ` ${fan.items} items unfolded `), close);
      groupsPanel.append(row);
    }
    groupsPanel.hidden = !groupsPanel.childElementCount;
  }

  // Header, failure, detail ------------------------------------------------------------

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
    problems.replaceChildren(
      ...(h.problems || []).map((text) => element("div", "argo-problem", `⚠ ${text}`)),
    );
    problems.hidden = !(h.problems || []).length;
    drawFailure(h.failure);
    drawActions();
    drawGroups();
    drawFoldMarks();
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
      select(f.id);
    });
    line.append(badge(model, f.phase), name);
    if (f.message) line.append(element("span", "", f.message));
    if (f.failed > 1) line.append(element("span", "argo-muted", `(${f.failed} steps failed)`));
    failure.append(line);
    if (f.log) failure.append(element("pre", "argo-log", f.log));
    mark();
  }

  // Actions: the Argo UI's buttons for the run (`header.actions`). Stop and terminate ask
  // for a second click. One action at a time; the kernel's answer is shown beside them.
  const LABELS = { retry: "Retry", suspend: "Suspend", resume: "Resume", stop: "Stop", terminate: "Terminate" };
  const CONFIRM = new Set(["stop", "terminate"]);
  const state = acting.get(key) || { pending: "", note: "", error: false };
  acting.set(key, state);
  let armed = ""; // the action clicked once, waiting for its confirming click
  function showNote() {
    actionNote.textContent = state.note;
    actionNote.classList.toggle("argo-action-error", state.error);
  }
  showNote();
  function act(action, node, parameters) {
    state.pending = `${Date.now()}-${Math.random()}`;
    armed = "";
    Object.assign(state, { note: `${LABELS[action] || action}…`, error: false });
    showNote();
    const request = { event: "action", id: state.pending, action, node: node || "" };
    model.send({ ...request, parameters: parameters || {} });
    drawActions();
    drawDetail();
  }
  function drawActions() {
    const offered = (model.get("header") || {}).actions || [];
    actionsBar.replaceChildren(
      ...offered.map((action) => {
        const confirming = armed === action;
        const label = confirming ? `${LABELS[action]}?` : LABELS[action] || action;
        const node = button(`argo-action argo-action-${action}`, label, `${LABELS[action]} the workflow`);
        node.disabled = Boolean(state.pending);
        if (confirming) node.classList.add("argo-confirm");
        node.addEventListener("click", () => {
          if (CONFIRM.has(action) && armed !== action) {
            armed = action;
            setTimeout(() => {
              if (armed === action) {
                armed = "";
                drawActions();
              }
            }, 4000);
            drawActions();
            return;
          }
          act(action);
        });
        return node;
      }),
    );
  }

  // Details and log tails the kernel pushes as they change (custom messages): a click
  // is answered here at once, even while the kernel is busy with a blocking cell.
  const pushed = new Map();
  const tails = new Map();
  model.on("msg:custom", (msg) => {
    let touched = {};
    if (msg.type === "details") {
      touched = msg.nodes || {};
      for (const [id, d] of Object.entries(touched)) pushed.set(id, d);
    } else if (msg.type === "tails") {
      touched = msg.tails || {};
      for (const [id, t] of Object.entries(touched)) tails.set(id, t);
    } else if (msg.type === "action") {
      if (msg.id === state.pending) {
        Object.assign(state, { pending: "", note: msg.message || "", error: !msg.ok });
      }
      showNote();
      drawActions();
      drawDetail();
      return;
    } else {
      return;
    }
    const selected = model.get("selected");
    if (selected && Object.prototype.hasOwnProperty.call(touched, selected)) drawDetail();
  });

  // A suspended node's resume, as the Argo UI has it: a field per input parameter (a
  // choice for an enum), whose values become the node's output parameters. What is typed
  // outlives the panel's redraws.
  const typed = new Map(); // node id -> {parameter: value}
  function resumeForm(d) {
    const form = element("form", "argo-resume");
    const values = typed.get(d.id) || {};
    typed.set(d.id, values);
    for (const field of d.resume) {
      const label = element("label", "argo-resume-field");
      label.append(element("span", "", field.name));
      let input;
      if (field.enum && field.enum.length) {
        input = element("select");
        for (const option of field.enum) input.append(new Option(option, option));
      } else {
        input = element("input");
        input.type = "text";
      }
      input.name = field.name;
      input.value = values[field.name] ?? field.value;
      input.addEventListener("input", () => (values[field.name] = input.value));
      input.addEventListener("change", () => (values[field.name] = input.value));
      input.addEventListener("keydown", (event) => event.stopPropagation());
      if (field.description) label.title = field.description;
      label.append(input);
      form.append(label);
    }
    const go = button("argo-action argo-resume-node", "Resume", "Resume this node");
    go.type = "submit";
    go.disabled = Boolean(state.pending);
    form.append(go);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const parameters = {};
      for (const field of d.resume) parameters[field.name] = values[field.name] ?? field.value;
      act("resume", d.id, d.resume.length ? parameters : {});
    });
    return form;
  }

  // The selected node: from what was pushed, else from the kernel's answer (`detail`).
  function shownDetail() {
    const selected = model.get("selected");
    const asked = model.get("detail") || {};
    if (!selected) return {};
    const known = pushed.get(selected);
    if (!known) return asked.id === selected ? asked : {};
    const log = tails.get(selected) ?? (asked.id === selected ? asked.log : "");
    const started = Date.parse(known.startedAt || "");
    const duration =
      !known.finishedAt && !Number.isNaN(started)
        ? formatDuration((Date.now() - started) / 1000)
        : known.duration;
    return { ...known, duration, log: log || "" };
  }

  function drawDetail() {
    const d = shownDetail();
    const focused = detail.contains(document.activeElement) ? document.activeElement.name : "";
    detail.replaceChildren();
    el.append(artifactsPanel);
    detail.hidden = !d.id;
    if (!d.id) return;
    const top = element("div", "argo-detail-head");
    const close = button("argo-close", "×", "Close");
    close.addEventListener("click", () => select(""));
    top.append(badge(model, d.phase), element("strong", "", d.displayName || d.name));
    const facts = [d.type, d.template && `template ${d.template}`, d.duration].filter(Boolean);
    if (ownerOf.has(d.id)) facts.push("folded");
    top.append(element("span", "argo-muted", facts.join(" · ")), close);
    detail.append(top);
    if (d.message) detail.append(element("div", "argo-message", d.message));
    if (Array.isArray(d.resume) && d.phase === "Running" && (model.get("header") || {}).actionable) {
      const form = resumeForm(d);
      detail.append(form);
      const again = focused && [...form.elements].find((e) => e.name === focused);
      if (again) again.focus();
    }
    const columns = element("div", "argo-columns");
    const listed = ((model.get("artifacts") || {})[d.id] || []).length > 0;
    columns.append(ioSection("Inputs", d.inputs, listed), ioSection("Outputs", d.outputs, listed));
    detail.append(columns);
    // The artifacts panel sits in the details when they are the selected node's.
    if (d.id === model.get("selected")) detail.append(artifactsPanel);
    if (d.log) {
      detail.append(element("h4", "", "Log (tail)"));
      const log = element("pre", "argo-log", d.log);
      detail.append(log);
      log.scrollTop = log.scrollHeight;
    }
  }

  // The selected node's artifacts: from `artifacts`, which the updates bring, so they show
  // on a click while the kernel is busy (before, or without, `detail`).
  let artifactsShown = "";
  function drawArtifacts() {
    const id = model.get("selected") || "";
    const list = (model.get("artifacts") || {})[id] || [];
    const h = model.get("header") || {};
    const key = JSON.stringify([id, h.name, h.namespace, list]);
    if (key === artifactsShown) return;
    artifactsShown = key;
    artifactsPanel.replaceChildren();
    artifactsPanel.hidden = !list.length;
    if (list.length) artifactsPanel.append(artifactsSection(model, id, list));
  }

  model.on("change:svg", drawSvg);
  model.on("change:legend", drawLegend);
  model.on("change:index", drawIndex);
  model.on("change:names", runSearch);
  model.on("change:phases", paint);
  model.on("change:notes", paint);
  model.on("change:groups", filter);
  model.on("change:palette", paint);
  model.on("change:selected", () => {
    mark();
    drawDetail();
  });
  model.on("change:header", drawHeader);
  model.on("change:detail", drawDetail);
  model.on("change:selected", drawArtifacts);
  model.on("change:artifacts", drawArtifacts);
  model.on("change:header", drawArtifacts);
  drawHeader();
  drawLegend();
  drawSvg();
  drawIndex();
  drawDetail();
  drawArtifacts();
  // Tells the kernel a widget frontend draws views (else its final output is static).
  model.send({ event: "rendered" });
  const timer = setInterval(tick, 1000);
  // Drawn before it was in the page (sizes were 0): measure again once it is.
  requestAnimationFrame(() => {
    restored = false;
    if (!svg) return;
    sizeViewport();
    if (fitted) fitAll();
    measure();
    drawMinimap();
    drawFoldMarks();
  });
  return () => clearInterval(timer);
}

export default { render };
