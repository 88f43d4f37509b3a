// Autograd Explorer's backward-pass player: the view (the page, its elements and events).
//
// An ES module, used two ways:
//   * as a Streamlit components-v2 module: `export default function (component)`;
//   * in the standalone HTML export, where the page calls `mountPlayer(element, data)`.
// What needs no page (the frames cursor, playing, the step report, what the component keeps
// between reruns) is in cursor.mjs, which has unit tests (tests/js/). Streamlit loads one
// module text from a blob URL, where the import below cannot resolve: player_js() in
// __init__.py pastes cursor.mjs in front of this file and drops the import line.
//
// The data comes from explorer/play/frames.py (the names are listed in cursor.mjs): the laid-out
// SVG (ids n0.., e0..) and a list of frames, each naming the node that runs, the edges a gradient
// travels and the texts to show. The player never computes a gradient. Advancing one frame only
// toggles classes and sets the text of a few elements found once at start-up; going back or
// jumping replays the frames' class changes from a clean state, still a few class toggles a frame.
//
// What tests (and anyone outside) may read: the root element `.agp-root` carries
//   data-step         the index of the frame on screen (0 is the seed),
//   data-frames       how many frames there are (the last is data-frames - 1, the end),
//   data-active-node  the id of the node running in that frame, or "" (seed summary, end),
//   data-linked       the ids of the nodes picked from the forward pass, space-separated, or "";
// and the class `playing` while it plays. Everything else is what the student sees.

import { AutoplayChoice, Cursor, KeyboardOwner, PlayerSlot, SPEEDS, StepReporter, chipOf, fittedScale, keyAction, shouldAutoplay, shouldBringIntoView } from "./cursor.mjs";
// inspector hook: the node inspector (tooltips and the panel) is its own module.
import { NodeInspector } from "./inspector.mjs";

const MAX_FIT_SCALE = 1.6; // fitting a tiny graph should not blow it up to poster size
const MIN_READABLE_SCALE = 0.45; // below this a fitted graph is unreadable: start at 100% instead
const MIN_SCALE = 0.02;
const MAX_SCALE = 8;
const CLICK_SLOP_PX = 4; // a press on the graph that moves less than this is a click, not a drag
const LECTURER_LABEL_PX = 24; // the smallest node label on screen in lecturer mode: readable from the back of a room

const ICONS = {
  first: '<path d="M21 6v12l-7-6zM14 6v12l-7-6zM4 6h2v12H4z"/>',
  prev: '<path d="M17 6v12l-8.5-6zM6 6h2v12H6z"/>',
  play: '<path d="M7 5v14l12-7z"/>',
  pause: '<path d="M6 5h4v14H6zM14 5h4v14h-4z"/>',
  next: '<path d="M7 6v12l8.5-6zM16 6h2v12h-2z"/>',
  last: '<path d="M3 6v12l7-6zM10 6v12l7-6zM18 6h2v12h-2z"/>',
  zoomIn: '<path d="M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z"/>',
  zoomOut: '<path d="M5 11h14v2H5z"/>',
  fit: '<path d="M3 3h6v2H5v4H3zM15 3h6v6h-2V5h-4zM3 15h2v4h4v2H3zM19 15h2v6h-6v-2h4zM9 9h6v6H9z"/>',
  fullscreen: '<path d="M14 3h7v7h-2V6.4l-5.3 5.3-1.4-1.4L17.6 5H14zM3 14h2v3.6l5.3-5.3 1.4 1.4L6.4 19H10v2H3z"/>',
};

function icon(name) {
  return `<svg class="agp-icon" viewBox="0 0 24 24" aria-hidden="true">${ICONS[name]}</svg>`;
}

const TEMPLATE = `
  <div class="agp-bar" role="toolbar" aria-label="Player controls">
    <div class="agp-group">
      <button type="button" data-act="first" title="Restart (Home)" aria-label="Restart">${icon("first")}</button>
      <button type="button" data-act="prev" title="Step back (Left arrow)" aria-label="Step back">${icon("prev")}</button>
      <button type="button" data-act="play" class="agp-play" title="Play / pause (Space)" aria-label="Play or pause">
        <span class="agp-when-paused">${icon("play")}</span><span class="agp-when-playing">${icon("pause")}</span>
      </button>
      <button type="button" data-act="next" title="Step forward (Right arrow)" aria-label="Step forward">${icon("next")}</button>
      <button type="button" data-act="last" title="Jump to the end (End)" aria-label="Jump to the end">${icon("last")}</button>
    </div>
    <input class="agp-scrub" type="range" min="0" max="0" value="0" aria-label="Step">
    <span class="agp-count" aria-live="off"></span>
    <label class="agp-speed">Speed <select aria-label="Speed"></select></label>
    <div class="agp-group agp-view">
      <button type="button" data-act="zoom-out" title="Zoom out (mouse wheel)" aria-label="Zoom out">${icon("zoomOut")}</button>
      <button type="button" data-act="zoom-in" title="Zoom in (mouse wheel)" aria-label="Zoom in">${icon("zoomIn")}</button>
      <button type="button" data-act="fit" title="Fit the graph to the view" aria-label="Fit to view">${icon("fit")}</button>
      <button type="button" data-act="fullscreen" title="Full screen" aria-label="Full screen">${icon("fullscreen")}</button>
    </div>
    <label class="agp-autoplay" title="Play each new call's animation once by itself"><input type="checkbox"> Autoplay</label>
    <button type="button" data-act="help" class="agp-help-button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">?</button>
  </div>
  <div class="agp-help" role="dialog" aria-label="Keyboard shortcuts" hidden>
    <div class="agp-help-title">Keyboard shortcuts</div>
    <dl>
      <dt><kbd>Space</kbd></dt><dd>play / pause</dd>
      <dt><kbd>→</kbd> <kbd>←</kbd></dt><dd>step forward / back</dd>
      <dt><kbd>Home</kbd> <kbd>End</kbd></dt><dd>restart / jump to the end</dd>
      <dt><kbd>?</kbd></dt><dd>show / hide this list</dd>
      <dt><kbd>Esc</kbd></dt><dd>close this list, clear the picked forward line</dd>
    </dl>
    <div class="agp-help-note">They work anywhere on the page except while typing in a field.</div>
  </div>
  <div class="agp-note" role="note" hidden></div>
  <div class="agp-caption" aria-live="polite">
    <div class="agp-title"></div>
    <ul class="agp-lines"></ul>
  </div>
  <div class="agp-main">
    <section class="agp-forward" aria-label="Forward pass" hidden>
      <div class="agp-forward-title">Forward pass</div>
      <div class="agp-forward-help">Pick a line to find its node in the backward graph (Esc clears).</div>
      <ul class="agp-forward-leaves" aria-label="Leaves"></ul>
      <ol class="agp-forward-steps" aria-label="Operations, in the order they ran"></ol>
    </section>
    <div class="agp-stage" title="">
      <div class="agp-svg"></div>
      <div class="agp-hint">wheel: zoom · drag: move · Space, ←, →, Home, End · ? for the keys</div>
    </div>
  </div>
  <div class="agp-strip" aria-label="The .grad of each leaf after every call"></div>
  <div class="agp-legend"></div>
`;

export function mountPlayer(container, data, options = {}) {
  return new Player(container, data, options);
}

// The page's keyboard owner lives on the document, so that every player on the page shares it
// however many times the module text was loaded.
function keyboardOf(doc) {
  if (!doc.agpKeyboard) doc.agpKeyboard = new KeyboardOwner();
  return doc.agpKeyboard;
}

class Player {
  // keysOnPage: the shortcuts work anywhere on the page (the app, an export); false keeps them to the
  // player itself, for a notebook, whose page uses Space and the arrows for its own cells.
  constructor(container, data, { onStep = null, startStep = data.start_step ?? 0, newCall = false, keysOnPage = true } = {}) {
    this.data = data;
    this.keysOnPage = keysOnPage;
    this.frames = data.frames;
    this.cursor = new Cursor(this.frames.length);
    this.reporter = new StepReporter(this.cursor, onStep);
    this.keyboard = keyboardOf(document);
    this.timer = null;
    this.cleanups = [];

    this.root = document.createElement("div");
    this.root.className = "agp-root";
    this.root.tabIndex = 0;
    this.root.setAttribute("role", "region");
    this.root.setAttribute("aria-label", "Backward pass player");
    this.root.innerHTML = TEMPLATE;
    for (const [key, value] of Object.entries(data.palette || {})) {
      this.root.style.setProperty(`--agp-${key.replace(/_/g, "-")}`, value);
    }
    this.root.classList.toggle("agp-dark", Boolean(data.dark));
    this.root.classList.toggle("agp-presentation", Boolean(data.presentation));
    this.root.dataset.linked = "";
    this.root.dataset.frames = String(this.frames.length);
    container.appendChild(this.root);

    this.$ = (selector) => this.root.querySelector(selector);
    this.matchTheme();
    this.buildGraph();
    this.buildControls();
    this.buildForward();
    this.buildStrip();
    this.buildLegend();
    this.inspector = new NodeInspector(this, data.inspect); // inspector hook: tooltips, panel
    this.bindKeys();
    this.bindView();
    // The newest player has the keys: after a call, the new call's player (the previous one may
    // still be on screen, faded, until Streamlit finishes the rerun).
    this.keyboard.claim(this);

    this.goTo(this.cursor.opening(startStep));
    this.fitInitial();
    const reducedMotion = typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (newCall) this.bringIntoView(reducedMotion);
    if (shouldAutoplay({ newCall, startStep: data.start_step, enabled: this.autoplay.enabled, reducedMotion })) this.play();
  }

  get connected() {
    return this.root.isConnected;
  }

  // -- theme: the controls sit on the page's colours (Streamlit's --st-* variables, or the
  // standalone page's), except that a graph drawn dark never gets light controls around it. ----
  matchTheme() {
    const check = () => {
      const pageIsDark = isDarkColour(resolvedColour(this.root, "var(--st-background-color, #ffffff)"));
      this.root.classList.toggle("agp-own-dark", Boolean(this.data.dark) && !pageIsDark);
      this.root.classList.toggle("agp-chrome-dark", Boolean(this.data.dark) || pageIsDark);
    };
    check();
    if (typeof matchMedia === "function") {
      const query = matchMedia("(prefers-color-scheme: dark)"); // the standalone page follows it
      query.addEventListener("change", check);
      this.cleanups.push(() => query.removeEventListener("change", check));
    }
  }

  // -- start-up: find every element a frame will touch, once ------------------------------
  buildGraph() {
    const holder = this.$(".agp-svg");
    this.nodeEls = new Map(); // node id -> its element and its reference copies (render.py draws
    this.edgeEls = new Map(); // a node used many times once, plus a small copy beside each use)
    this.edgeTexts = new Map(); // filled lazily: most edges are never asked for a text
    this.gradEls = new Map();
    this.boxes = new Map();
    holder.innerHTML = this.data.svg || "";
    const svg = (this.svg = holder.querySelector("svg"));
    if (!svg) {
      this.$(".agp-stage").hidden = true; // nothing could be laid out: the captions still play
      return;
    }
    const [gx, gy, gw, gh] = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    this.extent = { x: gx, y: gy, w: gw, h: gh };
    // One viewBox unit = one CSS pixel at scale 1; the camera is a CSS transform on the <svg>.
    svg.setAttribute("width", String(gw));
    svg.setAttribute("height", String(gh));
    const group = svg.querySelector("g.graph");
    const matrix = group && group.transform.baseVal.consolidate();
    this.groupMatrix = matrix ? matrix.matrix : null;

    for (const g of svg.querySelectorAll("g.node")) {
      const copyOf = [...g.classList].find((name) => name.startsWith("ref-of-"));
      const id = copyOf ? copyOf.slice("ref-of-".length) : g.id;
      if (!this.nodeEls.has(id)) this.nodeEls.set(id, []);
      if (copyOf) this.nodeEls.get(id).push(g);
      else this.nodeEls.get(id).unshift(g); // the node itself first: it is the one to follow
    }
    for (const g of svg.querySelectorAll("g.edge")) this.edgeEls.set(g.id, g);
    for (const leafId of Object.keys(this.data.leaves || {})) {
      const text = this.gradTextOf(leafId);
      if (text) this.gradEls.set(leafId, text);
    }
  }

  // Add, remove or replace classes on a node and its reference copies.
  mark(id, action, ...names) {
    for (const g of this.nodeEls.get(id) || []) g.classList[action](...names);
  }

  gradTextOf(leafId) {
    const node = (this.nodeEls.get(leafId) || [])[0];
    if (!node) return null;
    const texts = [...node.querySelectorAll("text")];
    let text = texts.find((t) => t.textContent.trim().startsWith("grad ="));
    if (!text && texts.length) {
      // Drawn without a grad line: add one under the last line of the label.
      const lastLine = texts[texts.length - 1];
      const y = (t) => Number(t.getAttribute("y"));
      const lineHeight = texts.length > 1
        ? y(lastLine) - y(texts[texts.length - 2])
        : 1.1 * Number(lastLine.getAttribute("font-size") || this.data.font_size || 12);
      text = lastLine.cloneNode(false);
      text.setAttribute("y", String(y(lastLine) + lineHeight));
      node.appendChild(text);
    }
    if (text) {
      text.classList.add("grad-value");
      text.setAttribute("data-leaf", leafId);
    }
    return text;
  }

  edgeText(edgeId) {
    if (this.edgeTexts.has(edgeId)) return this.edgeTexts.get(edgeId);
    const edge = this.edgeEls.get(edgeId);
    let text = edge ? edge.querySelector("text") : null;
    const path = edge ? edge.querySelector("path") : null;
    if (edge && !text && path) {
      // An edge Graphviz drew without a label: put the value beside the middle of its path.
      const middle = path.getPointAtLength(path.getTotalLength() / 2);
      text = document.createElementNS(this.svg.namespaceURI, "text");
      text.setAttribute("x", String(middle.x + 6));
      text.setAttribute("y", String(middle.y));
      text.setAttribute("font-family", "monospace"); // as Graphviz writes its edge labels (render.py)
      text.setAttribute("font-size", String(Math.max((this.data.font_size || 12) - 1, 8)));
      edge.appendChild(text);
    }
    if (text) text.classList.add("grad-flow");
    this.edgeTexts.set(edgeId, text);
    return text;
  }

  buildControls() {
    this.scrub = this.$(".agp-scrub");
    this.scrub.max = String(this.cursor.last);
    this.count = this.$(".agp-count");
    this.title = this.$(".agp-title");
    this.lines = this.$(".agp-lines");
    this.lineEls = [];
    const select = this.$(".agp-speed select");
    for (const speed of SPEEDS) {
      const option = document.createElement("option");
      option.value = String(speed);
      option.textContent = `${speed}×`;
      option.selected = speed === this.cursor.speed;
      select.appendChild(option);
    }
    select.addEventListener("change", () => {
      this.cursor.speed = Number(select.value);
      if (this.cursor.playing) this.schedule();
    });
    this.scrub.addEventListener("input", () => this.userMove(() => this.cursor.goTo(Number(this.scrub.value))));
    const actions = {
      first: () => this.userMove(this.moves.first),
      prev: () => this.userMove(this.moves.prev),
      play: () => this.toggle(),
      next: () => this.userMove(this.moves.next),
      last: () => this.userMove(this.moves.last),
      "zoom-in": () => this.svg && this.zoomByHand(1.25),
      "zoom-out": () => this.svg && this.zoomByHand(0.8),
      fit: () => this.svg && this.refit(true),
      fullscreen: () => this.toggleFullscreen(),
      help: () => this.toggleHelp(),
    };
    for (const button of this.root.querySelectorAll("button[data-act]")) {
      button.addEventListener("click", () => {
        actions[button.dataset.act]();
        this.root.focus({ preventScroll: true }); // so Space next means play/pause, not "click again"
      });
    }
    this.autoplay = new AutoplayChoice(() => window.localStorage);
    const autoplayBox = this.$(".agp-autoplay input");
    autoplayBox.checked = this.autoplay.enabled;
    autoplayBox.addEventListener("change", () => {
      this.autoplay.enabled = autoplayBox.checked;
    });
    const note = this.$(".agp-note");
    if (this.data.note) {
      note.textContent = this.data.note;
      note.hidden = false;
    }
  }

  // -- the forward pass, linked to the backward graph --------------------------------------
  // Each line of the forward pass (t1 = x ** 2 = 2.25) and each leaf (x = 1.5) is a toggle button:
  // pressing it outlines the backward node that operation recorded (a leaf: the leaf and the
  // AccumulateGrad that writes its .grad) and brings it into view. Nothing goes back to Python.
  buildForward() {
    this.rows = []; // {button, key, ids}
    this.rowsByNode = new Map(); // drawn id -> rows that point at it
    this.linkedKey = null;
    this.linkedIds = [];
    this.runningRows = [];
    const forward = this.data.forward;
    const panel = (this.forwardPanel = this.$(".agp-forward"));
    if (!forward || !(forward.steps || []).length) return;
    const drawn = (id) => (id && forward.drawn ? forward.drawn[id] ?? null : id || null);
    const present = (id) => id && (!this.svg || this.nodeEls.has(id));
    const addRow = (list, attribute, value, text, valueText, ids, label) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "agp-link";
      button.dataset[attribute] = value;
      const code = document.createElement("code");
      code.textContent = text;
      button.appendChild(code);
      if (valueText != null) {
        const shown = document.createElement("span");
        shown.className = "agp-link-value";
        shown.textContent = ` = ${valueText}`;
        button.appendChild(shown);
      }
      ids = [...new Set(ids.filter(present))];
      if (ids.length) {
        button.setAttribute("aria-pressed", "false");
        button.title = label;
        const row = { button, key: `${attribute}:${value}`, ids };
        this.rows.push(row);
        for (const id of ids) {
          if (!this.rowsByNode.has(id)) this.rowsByNode.set(id, []);
          this.rowsByNode.get(id).push(row);
        }
        button.addEventListener("click", () => this.toggleLink(row));
      } else {
        button.disabled = true;
        button.title = "Not drawn in this graph";
      }
      item.appendChild(button);
      list.appendChild(item);
    };
    const leaves = this.$(".agp-forward-leaves");
    for (const [name, leafId] of Object.entries(forward.leaf_nodes || {})) {
      const ids = [drawn(leafId), drawn((forward.leaves || {})[name])];
      addRow(leaves, "leaf", name, name, (forward.leaf_values || {})[name],
        ids, `Show ${name} and the AccumulateGrad that writes ${name}.grad`);
    }
    const steps = this.$(".agp-forward-steps");
    for (const step of forward.steps) {
      const node = step.node ? drawn(step.node) : null;
      addRow(steps, "node", step.node || "", step.text, step.value_text, [node],
        `Show the backward node ${step.result} recorded`);
    }
    panel.hidden = false;
    this.root.classList.add("agp-has-forward");
  }

  toggleLink(row) {
    if (this.linkedKey === row.key) this.clearLink();
    else this.link(row);
  }

  link(row) {
    this.clearLink();
    this.linkedKey = row.key;
    this.linkedIds = row.ids;
    row.button.setAttribute("aria-pressed", "true");
    for (const id of row.ids) this.mark(id, "add", "linked");
    this.root.dataset.linked = row.ids.join(" ");
    this.showNodes(row.ids);
  }

  clearLink() {
    if (this.linkedKey === null) return false;
    for (const id of this.linkedIds) this.mark(id, "remove", "linked");
    for (const row of this.rows) {
      if (row.key === this.linkedKey) row.button.setAttribute("aria-pressed", "false");
    }
    this.linkedKey = null;
    this.linkedIds = [];
    this.root.dataset.linked = "";
    return true;
  }

  // A node clicked in the graph picks its line of the forward pass, when it has one.
  linkFromGraph(nodeElement) {
    if (!nodeElement) {
      this.clearLink();
      return;
    }
    const copyOf = [...nodeElement.classList].find((name) => name.startsWith("ref-of-"));
    const id = copyOf ? copyOf.slice("ref-of-".length) : nodeElement.id;
    const rows = this.rowsByNode.get(id);
    if (!rows) return;
    const current = rows.findIndex((row) => row.key === this.linkedKey);
    if (current === rows.length - 1) this.clearLink(); // clicking again goes through them, then off
    else {
      const row = rows[current + 1];
      this.link(row);
      revealInside(this.forwardPanel, row.button);
    }
  }

  // Bring nodes into view: the stage into the window if it is out of sight, the nodes into the stage.
  showNodes(ids) {
    if (!this.svg || !this.viewReady) return;
    const rect = this.stage.getBoundingClientRect();
    if (rect.bottom < 0 || rect.top > window.innerHeight) this.stage.scrollIntoView({ block: "nearest" });
    const boxes = ids.map((id) => this.boxOf(id)).filter(Boolean);
    if (!boxes.length) return;
    const x = Math.min(...boxes.map((b) => b.x));
    const y = Math.min(...boxes.map((b) => b.y));
    const union = {
      x, y,
      w: Math.max(...boxes.map((b) => b.x + b.w)) - x,
      h: Math.max(...boxes.map((b) => b.y + b.h)) - y,
    };
    const { w, h } = this.stageSize();
    const fits = union.w <= w / this.view.s && union.h <= h / this.view.s;
    if (!this.inView(union)) this.centerOnBox(fits ? union : boxes[0]);
  }

  // The forward line of the node running now is marked too: the two views move together.
  markRunning(id) {
    for (const row of this.runningRows) row.button.classList.remove("running");
    this.runningRows = (id && this.rowsByNode.get(id)) || [];
    for (const row of this.runningRows) row.button.classList.add("running");
    // Scrolling the panel reads layout: do it when the browser lays out anyway, once per frame,
    // so that stepping through a big graph never pays for an extra layout.
    if (this.runningRows.length && !this.revealPending) {
      this.revealPending = true;
      requestAnimationFrame(() => {
        this.revealPending = false;
        if (this.runningRows.length) revealInside(this.forwardPanel, this.runningRows[0].button);
      });
    }
  }

  buildStrip() {
    const strip = this.$(".agp-strip");
    const history = this.data.history || { leaves: [], entries: [] };
    this.currentChips = new Map(); // leaf name -> value element of the call being animated
    if (!history.entries.length) {
      strip.hidden = true;
      return;
    }
    const heading = document.createElement("div");
    heading.className = "agp-strip-title";
    heading.textContent = ".grad after each call";
    strip.appendChild(heading);
    for (const leaf of history.leaves) {
      const row = document.createElement("div");
      row.className = "agp-row";
      const name = document.createElement("span");
      name.className = "agp-leaf";
      name.textContent = `${leaf}.grad`;
      const chips = document.createElement("ol");
      chips.className = "agp-chips";
      for (const entry of history.entries) {
        const shown = chipOf(entry, leaf);
        const chip = document.createElement("li");
        chip.className = shown.className;
        chip.dataset.number = String(entry.number);
        chip.title = shown.title;
        const action = document.createElement("span");
        action.className = "agp-action";
        action.textContent = shown.action;
        const value = document.createElement("span");
        value.className = "agp-value";
        value.textContent = shown.value;
        value.dataset.final = value.textContent;
        chip.append(action, value);
        chips.appendChild(chip);
        if (entry.current) this.currentChips.set(leaf, value);
      }
      row.append(name, chips);
      strip.appendChild(row);
    }
  }

  buildLegend() {
    const legend = this.$(".agp-legend");
    const items = [...(this.data.legend || [])];
    if (this.rows.length) items.push([null, "picked in the forward pass", null]);
    for (const [color, label, border] of items) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      if (color) swatch.style.background = color;
      else swatch.className = "agp-swatch-linked";
      if (border) swatch.style.borderColor = border;
      item.append(swatch, document.createTextNode(label));
      legend.appendChild(item);
    }
  }

  // -- frames ---------------------------------------------------------------------------
  // The moves the buttons and the keys share, named as the buttons are (data-act).
  get moves() {
    return {
      first: () => this.cursor.toStart(),
      prev: () => this.cursor.back(),
      next: () => this.cursor.forward(),
      last: () => this.cursor.toEnd(),
    };
  }

  // A move the student made: a playback stops, the move is drawn, and Python hears the step.
  userMove(move) {
    this.pause();
    this.draw(move());
    this.report();
  }

  goTo(index) {
    this.draw(this.cursor.goTo(index));
  }

  // Draw a move of the cursor (null: nothing moved).
  draw(move) {
    if (!move) return;
    if (!move.replay) {
      this.retire(this.frames[move.from]); // the cheap path: one frame forward
    } else {
      this.reset();
      for (const i of this.cursor.pastFrames()) this.past(this.frames[i]);
    }
    this.present(this.frames[move.to]);
  }

  reset() {
    for (const copies of this.nodeEls.values()) {
      for (const g of copies) g.classList.remove("active", "done", "written");
    }
    for (const g of this.edgeEls.values()) g.classList.remove("flow", "passed");
    for (const text of this.gradEls.values()) text.classList.remove("changed");
    for (const value of this.currentChips.values()) value.classList.remove("changed");
    this.chipsReached = new Set();
  }

  // A frame that has happened: its nodes are done, its gradients have passed, its .grad stays.
  past(frame) {
    for (const id of frame.ran) this.mark(id, "add", "done");
    for (const edge of frame.edges) {
      this.edgeEls.get(edge.id)?.classList.add("passed");
      this.setEdgeText(edge);
    }
    this.applyGrads(frame);
  }

  // The frame on screen: its node runs, its gradients travel.
  present(frame) {
    for (const id of frame.ran) {
      if (id !== frame.active) this.mark(id, "add", "done");
    }
    if (frame.active) this.mark(frame.active, "add", "active");
    for (const edge of frame.edges) {
      this.edgeEls.get(edge.id)?.classList.add("flow");
      this.setEdgeText(edge);
    }
    this.applyGrads(frame);
    if (frame.change) {
      this.mark(frame.change.leaf, "add", "written");
      this.gradEls.get(frame.change.leaf)?.classList.add("changed");
      this.currentChips.get(frame.change.name)?.classList.add("changed");
    }
    this.showCaption(frame);
    this.inspector.showStep(frame.index); // inspector hook: "at this step" follows the frame
    if (this.rowsByNode.size) this.markRunning(frame.active);
    this.root.dataset.step = String(frame.index);
    this.root.dataset.activeNode = frame.active || "";
    this.scrub.value = String(frame.index);
    // Counted as the captions count: the seed and the end are not steps, so "2 / 5" sits beside "Step 2 of 5".
    const steps = this.frames.length - 2;
    this.count.textContent = frame.kind === "seed" ? "start" : frame.kind === "done" ? "end" : `${frame.index} / ${steps}`;
    // At the end, look at the last .grad written (a leaf, usually far from the output).
    const focus = frame.active || (frame.kind === "done" ? this.lastWritten() : null);
    if (focus && this.svg && this.viewReady) this.follow(focus);
  }

  // The frame on screen becomes the past: the cheap way forward.
  retire(frame) {
    if (frame.active) this.mark(frame.active, "remove", "active");
    for (const id of frame.ran) this.mark(id, "add", "done");
    for (const edge of frame.edges) this.edgeEls.get(edge.id)?.classList.replace("flow", "passed");
    if (frame.change) {
      this.mark(frame.change.leaf, "remove", "written");
      this.gradEls.get(frame.change.leaf)?.classList.remove("changed");
      this.currentChips.get(frame.change.name)?.classList.remove("changed");
    }
  }

  lastWritten() {
    const frame = [...this.frames].reverse().find((f) => f.change);
    return frame ? frame.change.leaf : null;
  }

  setEdgeText(edge) {
    if (edge.text == null) return;
    const text = this.edgeText(edge.id);
    if (text && text.textContent !== edge.text) text.textContent = edge.text;
  }

  applyGrads(frame) {
    for (const [leafId, value] of Object.entries(frame.leaf_grads)) {
      const text = this.gradEls.get(leafId);
      if (text) text.textContent = `grad = ${value}`;
    }
    // The strip's chip for the call being animated fills in when that leaf's .grad is written.
    if (frame.change) this.chipsReached.add(frame.change.name);
    for (const [leaf, value] of this.currentChips) {
      value.textContent = this.chipsReached.has(leaf) ? value.dataset.final : "…";
    }
  }

  showCaption(frame) {
    this.title.textContent = frame.title;
    frame.lines.forEach((line, i) => {
      if (!this.lineEls[i]) {
        this.lineEls[i] = document.createElement("li");
        this.lines.appendChild(this.lineEls[i]);
      }
      this.lineEls[i].textContent = line;
      this.lineEls[i].hidden = false;
    });
    for (let i = frame.lines.length; i < this.lineEls.length; i++) this.lineEls[i].hidden = true;
  }

  // -- playing --------------------------------------------------------------------------
  toggle() {
    if (this.cursor.playing) this.pause();
    else this.play();
  }

  play() {
    this.draw(this.cursor.play());
    this.root.classList.add("playing");
    this.schedule();
  }

  pause() {
    if (!this.cursor.pause()) return;
    this.root.classList.remove("playing");
    clearTimeout(this.timer);
    this.report();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.cursor.playing) return;
      this.draw(this.cursor.forward());
      if (this.cursor.atEnd) this.pause();
      else this.schedule();
    }, this.cursor.interval);
  }

  // Tell Python the step (StepReporter: once the student stops, never while playing).
  report() {
    this.reporter.request();
  }

  // -- keyboard -------------------------------------------------------------------------
  // One listener on the document, in the capture phase: it hears a key before a focused Streamlit
  // button or toggle (in the page, or a shadow root) can act on it, so the player that owns the
  // keys (KeyboardOwner, cursor.mjs) takes Space, the arrows, Home, End and ? wherever the focus is,
  // except in a text field (keyAction). Space is also taken on keyup: a button clicks on keyup.
  bindKeys() {
    const doc = this.root.ownerDocument;
    const onPageKey = (event) => {
      this.keyboard.offer(this); // a destroyed owner leaves the keys to a live player
      if (this.keyboard.owns(this)) this.onKey(event);
    };
    const onPageKeyUp = (event) => {
      if (event.key === " " && this.keyboard.owns(this) && this.keyTaken === " ") {
        this.keyTaken = null;
        event.preventDefault();
        event.stopPropagation();
      }
    };
    const listener = this.keysOnPage ? doc : this.root;
    listener.addEventListener("keydown", onPageKey, true);
    listener.addEventListener("keyup", onPageKeyUp, true);
    this.cleanups.push(() => {
      listener.removeEventListener("keydown", onPageKey, true);
      listener.removeEventListener("keyup", onPageKeyUp, true);
    });
    const claim = () => this.keyboard.claim(this);
    this.root.addEventListener("pointerdown", claim);
    this.root.addEventListener("focusin", claim);
  }

  onKey(event) {
    if (event.defaultPrevented) return;
    const path = event.composedPath();
    const target = path[0];
    const ownButton = Boolean(target && target.tagName && target.tagName.toLowerCase() === "button" && path.includes(this.root));
    const action = keyAction({ ...eventKeys(event), target, ownButton });
    if (!action) return;
    if (event.repeat && action === "toggle") {
      event.preventDefault(); // Space held down would flip play and pause on every repeat
      return;
    }
    if (action === "escape") {
      // Escape closes the list of keys, else clears the picked line; otherwise it stays the page's.
      // inspector hook: Escape closes the node panel first.
      if (this.inspector.close() || this.toggleHelp(false) || this.clearLink()) event.preventDefault();
      return;
    }
    const keys = {
      toggle: () => this.toggle(),
      next: () => this.userMove(this.moves.next),
      prev: () => this.userMove(this.moves.prev),
      first: () => this.userMove(this.moves.first),
      last: () => this.userMove(this.moves.last),
      help: () => this.toggleHelp(),
    };
    event.preventDefault();
    event.stopPropagation(); // Streamlit's own handlers must not act on a key the player took
    this.keyTaken = event.key;
    keys[action]();
  }

  // Show or hide the list of keys (`show` undefined: toggle); returns whether anything changed.
  toggleHelp(show) {
    const help = this.$(".agp-help");
    const next = show === undefined ? help.hidden : show;
    if (help.hidden === !next) return false;
    help.hidden = !next;
    return true;
  }

  // -- zoom, pan, fit, fullscreen: a CSS transform on the SVG is the camera ----------------
  // Not the viewBox: changing it makes the browser lay out every element of the SVG again
  // (30-40 ms on a 500-node graph, each time the view follows the running node), while a
  // transform only moves and scales what is already laid out.
  bindView() {
    this.stage = this.$(".agp-stage");
    if (!this.svg) return;
    const naturalHeight = this.extent.h * (96 / 72) + 24 + this.hintHeight(); // Graphviz sizes are in points
    // The caption and the graph fit on one screen together (a 1024 x 768 projector too): the step's
    // chain rule beside the graph it explains. The caption is still empty here (no frame drawn yet,
    // or mounted hidden): room is kept for a title and three lines that wrap once (9.5em).
    const em = parseFloat(getComputedStyle(this.root).fontSize) || 16;
    const caption = Math.max(this.$(".agp-caption").getBoundingClientRect().height, 9.5 * em);
    const room = window.innerHeight - caption - 32;
    const tallest = Math.min(this.data.presentation ? 760 : 620, Math.max(room, 260));
    const height = Math.round(Math.min(Math.max(naturalHeight, 260), tallest));
    this.stage.style.height = `${height}px`;
    this.root.style.setProperty("--agp-stage-height", `${height}px`);
    this.view = { cx: this.extent.x + this.extent.w / 2, cy: this.extent.y + this.extent.h / 2, s: 1 };

    this.stage.addEventListener("wheel", (event) => {
      event.preventDefault();
      this.userView = true;
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
      this.zoomBy(factor, event.clientX, event.clientY);
    }, { passive: false });

    let drag = null;
    this.stage.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      const target = event.target && event.target.closest ? event.target.closest("g.node") : null;
      drag = { x: event.clientX, y: event.clientY, cx: this.view.cx, cy: this.view.cy, target, moved: false };
      this.stage.setPointerCapture(event.pointerId);
      this.stage.classList.add("dragging");
      this.root.focus({ preventScroll: true });
    });
    this.stage.addEventListener("pointermove", (event) => {
      if (!drag) return;
      if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) > CLICK_SLOP_PX) {
        drag.moved = true;
        this.userView = true; // the student's own view: no refit takes it away
      }
      this.view.cx = drag.cx - (event.clientX - drag.x) / this.view.s;
      this.view.cy = drag.cy - (event.clientY - drag.y) / this.view.s;
      this.applyView();
    });
    const endDrag = (event) => {
      const click = drag && !drag.moved && event.type === "pointerup";
      const target = drag && drag.target;
      drag = null;
      this.stage.classList.remove("dragging");
      if (click && this.rows.length) this.linkFromGraph(target);
      if (click) this.inspector.clicked(target); // inspector hook: a click opens the node's panel
    };
    this.stage.addEventListener("pointerup", endDrag);
    this.stage.addEventListener("pointercancel", endDrag);

    // Framing that holds: the graph is fitted again whenever the stage appears or changes size
    // (mounted on a hidden Streamlit tab and shown, full screen entered or left, the window
    // resized, a notebook's iframe scrolled into view), unless the student zoomed or panned.
    const reframe = () => {
      const before = this.size;
      this.measureStage();
      const changed = !before || before.w !== this.size.w || before.h !== this.size.h;
      if (changed && !this.userView) this.refit();
      else this.applyView();
    };
    const onFullscreen = () => {
      // Full screen never draws the labels smaller than the page did: remember the page's scale.
      this.pageScale = this.isFullscreen() ? this.pageScale ?? this.view.s : null;
      requestAnimationFrame(reframe);
    };
    document.addEventListener("fullscreenchange", onFullscreen);
    this.cleanups.push(() => document.removeEventListener("fullscreenchange", onFullscreen));
    if (typeof ResizeObserver !== "undefined") {
      const resizes = new ResizeObserver(reframe);
      resizes.observe(this.stage);
      this.cleanups.push(() => resizes.disconnect());
    }
    if (typeof IntersectionObserver !== "undefined") {
      const sightings = new IntersectionObserver((entries) => {
        if (entries.some((entry) => entry.isIntersecting)) reframe();
      });
      sightings.observe(this.stage);
      this.cleanups.push(() => sightings.disconnect());
    }
  }

  // Not document.fullscreenElement === root: in Streamlit the player is in a shadow root, and the
  // document names the shadow host instead.
  isFullscreen() {
    return this.root.matches(":fullscreen");
  }

  // The stage's size is read once and again only when it changes: reading it inside a frame would
  // force the browser to lay out the whole SVG right after the frame changed its classes.
  stageSize() {
    if (!this.size) this.measureStage();
    return this.size;
  }

  measureStage() {
    const box = this.stage.getBoundingClientRect();
    this.size = { w: Math.max(box.width, 1), h: Math.max(box.height, 1) };
  }

  applyView() {
    const { w, h } = this.stageSize();
    const { cx, cy, s } = this.view;
    const x = w / 2 - (cx - this.extent.x) * s;
    const y = h / 2 - (cy - this.extent.y) * s;
    this.svg.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
  }

  // The mouse hint sits in the stage's bottom corner: a fitted graph stays above it, never under it.
  hintHeight() {
    const hint = this.$(".agp-hint");
    return hint ? hint.offsetHeight : 0;
  }

  fitScale() {
    const { w, h } = this.stageSize();
    const pad = 16;
    const fitW = (w - pad) / this.extent.w;
    const fitH = (h - pad - this.hintHeight()) / this.extent.h;
    // Lecturer mode keeps every label LECTURER_LABEL_PX high; full screen keeps the page's size.
    const lecturer = this.data.presentation && this.labelHeight ? LECTURER_LABEL_PX / this.labelHeight : 0;
    return fittedScale({ fitW, fitH, cap: MAX_FIT_SCALE, minScale: Math.max(lecturer, this.pageScale || 0) });
  }

  fit() {
    const s = this.fitScale();
    const { h } = this.stageSize();
    const lift = this.hintHeight() / 2 / s; // centre the graph in the space above the hint
    const tall = this.extent.h * s > h - this.hintHeight();
    // A graph taller than the stage starts at its top, where the output and the seed are.
    const cy = tall ? this.extent.y + h / 2 / s : this.extent.y + this.extent.h / 2 + lift;
    this.view = { cx: this.extent.x + this.extent.w / 2, cy, s };
    this.applyView();
    if (tall) this.centerOnBox({ x: this.view.cx, y: this.extent.y, w: 0, h: 0 }); // clamp to the graph
  }

  // A big graph fitted whole is too small to read: start at 100% on the running node instead.
  // After the page has laid itself out (the rerun is still adding the elements above the player).
  bringIntoView(reducedMotion) {
    requestAnimationFrame(() => {
      const rect = this.stage.getBoundingClientRect();
      const most = this.data.presentation ? 0.5 : 1;
      if (!shouldBringIntoView({ newCall: true, stageTop: rect.top, stageBottom: rect.bottom, windowHeight: window.innerHeight, most })) return;
      this.root.scrollIntoView({ block: "start", behavior: reducedMotion ? "auto" : "smooth" });
    });
  }

  fitInitial() {
    if (!this.svg) return;
    this.viewReady = true;
    this.refit();
  }

  // Frame the graph afresh (byHand: the Fit button, which also hands the view back to the refits).
  refit(byHand = false) {
    if (byHand) this.userView = false;
    if (!this.nodesMeasured) this.measureNodes(); // a graph mounted hidden measured nothing
    const scale = this.fitScale();
    if (scale >= MIN_READABLE_SCALE || byHand) {
      this.fit();
      return;
    }
    this.view.s = Math.max(1, this.pageScale || 0);
    const frame = this.frames[Math.max(this.cursor.step, 0)];
    this.centerOn(frame.active || this.data.output);
  }

  zoomByHand(factor) {
    this.userView = true;
    this.zoomBy(factor);
  }

  zoomBy(factor, clientX, clientY) {
    const { w, h } = this.stageSize();
    const { left, top } = this.stage.getBoundingClientRect();
    const s = Math.min(Math.max(this.view.s * factor, MIN_SCALE), MAX_SCALE);
    // Keep the graph point under the cursor (or the centre) where it is.
    const dx = (clientX === undefined ? w / 2 : clientX - left) - w / 2;
    const dy = (clientY === undefined ? h / 2 : clientY - top) - h / 2;
    const px = this.view.cx + dx / this.view.s;
    const py = this.view.cy + dy / this.view.s;
    this.view = { cx: px - dx / s, cy: py - dy / s, s };
    this.applyView();
  }

  // Every node's box in viewBox units, read in one go at start-up (nodes never move), so that
  // following the running node never makes the browser lay the SVG out in the middle of a frame.
  measureNodes() {
    const m = this.groupMatrix;
    const sizes = [...this.svg.querySelectorAll("g.node text")].map((t) => t.getBBox().height).filter((v) => v > 0);
    // The smallest label's height in viewBox units (scale 1): what lecturer mode keeps readable.
    this.labelHeight = sizes.length ? Math.min(...sizes) * (m ? Math.abs(m.d) : 1) : 0;
    this.nodesMeasured = sizes.length > 0;
    for (const [id, copies] of this.nodeEls) {
      const b = copies[0].getBBox();
      this.boxes.set(id, m
        ? { x: m.a * b.x + m.c * b.y + m.e, y: m.b * b.x + m.d * b.y + m.f, w: b.width * m.a, h: b.height * m.d }
        : { x: b.x, y: b.y, w: b.width, h: b.height });
    }
  }

  boxOf(id) {
    return this.boxes.get(id) || null;
  }

  // Centre a node, but where the graph is bigger than the view keep its edges at the view's
  // edges: no half-empty stage when the node is the first or last of a long chain.
  centerOn(id) {
    const box = this.boxOf(id);
    if (box) this.centerOnBox(box);
  }

  centerOnBox(box) {
    const { w, h } = this.stageSize();
    const clamp = (centre, half, start, length) =>
      length <= 2 * half ? start + length / 2 : Math.min(Math.max(centre, start + half), start + length - half);
    const { x, y, w: gw, h: gh } = this.extent;
    this.view.cx = clamp(box.x + box.w / 2, w / this.view.s / 2, x, gw);
    this.view.cy = clamp(box.y + box.h / 2, h / this.view.s / 2, y, gh);
    this.applyView();
  }

  // Keep the running node in sight while playing through a graph bigger than the view.
  follow(id) {
    const box = this.boxOf(id);
    if (box && !this.inView(box)) this.centerOnBox(box);
  }

  inView(box) {
    const { w, h } = this.stageSize();
    const halfW = w / this.view.s / 2;
    const halfH = h / this.view.s / 2;
    return box.x >= this.view.cx - halfW && box.x + box.w <= this.view.cx + halfW
      && box.y >= this.view.cy - halfH && box.y + box.h <= this.view.cy + halfH;
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (this.root.requestFullscreen) this.root.requestFullscreen().catch(() => {});
  }

  // Link the forward line whose key (a row's `key`) was picked in an earlier player, if it is here.
  linkKey(key) {
    const row = this.rows.find((r) => r.key === key);
    if (row) this.link(row);
  }

  destroy() {
    this.cursor.pause();
    clearTimeout(this.timer);
    this.reporter.cancel();
    for (const cleanup of this.cleanups) cleanup();
    this.keyboard.release(this);
    this.root.remove();
  }
}

// -- small helpers ----------------------------------------------------------------------------
// The parts of a key event that keyAction (cursor.mjs) reads.
function eventKeys(event) {
  return { key: event.key, altKey: event.altKey, ctrlKey: event.ctrlKey, metaKey: event.metaKey };
}

// A CSS colour (a var() with a fallback included) as the browser resolves it, as [r, g, b].
function resolvedColour(inside, css) {
  const probe = document.createElement("span");
  probe.style.display = "none";
  probe.style.color = css;
  inside.appendChild(probe);
  const match = getComputedStyle(probe).color.match(/[\d.]+/g);
  probe.remove();
  return match ? match.slice(0, 3).map(Number) : null;
}

function isDarkColour(rgb) {
  if (!rgb) return false;
  const [r, g, b] = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.18;
}

// Scroll a panel (not the page) so that one of its rows is visible.
function revealInside(panel, element) {
  if (!panel || !element || panel.scrollHeight <= panel.clientHeight) return;
  const top = element.offsetTop; // the panel is the offsetParent (position: relative)
  const bottom = top + element.offsetHeight;
  if (top < panel.scrollTop) panel.scrollTop = top - 8;
  else if (bottom > panel.scrollTop + panel.clientHeight) panel.scrollTop = bottom - panel.clientHeight + 8;
}

// -- Streamlit components v2 ------------------------------------------------------------------
// Streamlit calls this again whenever the page reruns; what to keep and what to rebuild is
// PlayerSlot's (cursor.mjs), one slot per parentElement, kept on it.
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (data && data.preload) return undefined; // explorer/ui/player.py preload_player: load the module, show nothing
  if (!parentElement.agpSlot) parentElement.agpSlot = new PlayerSlot();
  return parentElement.agpSlot.show(data, setStateValue, (options) => mountPlayer(parentElement, data, options));
}
