// The node inspector: hover a node for a short tooltip, click it (or Enter on a focused node) for a
// panel that says what it is, where the forward pass made it, its local derivative, what it saved,
// and what arrived and left at the step on screen. Escape closes the panel.
//
// Every text comes from the Animation JSON's `inspect` (explorer/play/inspect.py lists its fields),
// computed once in Python; nothing here computes a number. Texts are set with textContent only.
//
// The top half is DOM-free (panelModel, stepLines), unit-tested with Node in tests/js/. The bottom
// half, NodeInspector, is the view; player.js creates it and calls it from a few lines marked
// "inspector hook". player_js() pastes this module in front of player.js like cursor.mjs.

// -- DOM-free: what the panel says -----------------------------------------------------------
// The panel's fixed part, for one node's info: a title, the plain-words line, facts (label, text)
// and sections of items ({term, text}); anything the info lacks is left out.
export function panelModel(info) {
  const facts = [];
  const fact = (label, text) => {
    if (text !== null && text !== undefined && text !== "") facts.push([label, String(text)]);
  };
  fact("Node", info.name);
  fact("Shape", info.shape_words && `${info.shape_words} (${(info.shape || []).join(", ")}${info.shape && info.shape.length === 1 ? "," : ""})`);
  fact("dtype", info.dtype);
  fact("Value", info.value);
  fact("Means", info.meaning);
  if (info.forward) fact("Forward", info.forward.value == null ? info.forward.line : `${info.forward.line} = ${info.forward.value}`);
  const sections = [];
  const section = (heading, items) => {
    if (items.length) sections.push({ heading, items });
  };
  section("Local derivative, per input", (info.derivatives || []).map((d) => ({
    term: `input ${d.slot}${d.to ? ` → ${d.to}` : " (needs no gradient)"}`,
    text: d.at ? `${d.formula}; here: ${d.at}` : d.formula,
  })));
  section("Saved tensors", (info.saved || []).map((s) => ({
    term: `${s.name}${s.value == null ? "" : ` = ${s.value}`}${s.is ? ` (is ${s.is})` : ""}`,
    text: s.meaning,
  })));
  section("Attributes", (info.attrs || []).map((a) => ({ term: `${a.name}: ${a.value}`, text: a.meaning })));
  return { title: info.title || info.name, what: info.what, facts, sections };
}

// What arrived and left at frame `index`: running now, ran earlier (the last time), or not yet.
export function stepLines(info, index) {
  const runs = (info.runs || []).filter((run) => run.frame !== null && run.frame !== undefined);
  if (!runs.length) {
    return info.kind === "saved"
      ? ["No gradient flows through a saved tensor: its op reads it to compute the local derivative."]
      : ["The backward pass does not run this node."];
  }
  const now = runs.filter((run) => run.frame === index);
  const before = runs.filter((run) => run.frame < index);
  if (!now.length && !before.length) return [`Not reached yet: it runs at step ${runs[0].frame}.`];
  const run = now.length ? now[now.length - 1] : before[before.length - 1];
  const lines = [now.length ? "Running at this step:" : `Ran at step ${run.frame}:`, `arrived: ${run.arrived}`];
  for (const left of run.left) lines.push(`left: ${left.text} → ${left.to}`);
  if (run.grad_after !== null && run.grad_after !== undefined) {
    lines.push(`${info.kind === "leaf" ? info.name : "the leaf's"}.grad: ${run.grad_before} → ${run.grad_after}`);
  }
  return lines;
}

// -- the view ---------------------------------------------------------------------------------
// The drawn node id of a node's <g> (a reference copy stands for the node it copies, render.py).
function nodeIdOf(g) {
  const copyOf = [...g.classList].find((name) => name.startsWith("ref-of-"));
  return copyOf ? copyOf.slice("ref-of-".length) : g.id;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export class NodeInspector {
  // player: the Player (its root, nodeEls and stage); info: data.inspect (node id -> info).
  constructor(player, info) {
    this.player = player;
    this.info = info || {};
    this.openId = null;
    this.opener = null;
    this.index = 0;
    this.tip = element("div", "agp-tip");
    this.tip.setAttribute("role", "tooltip");
    this.tip.hidden = true;
    this.panel = element("aside", "agp-inspector");
    this.panel.setAttribute("role", "dialog");
    this.panel.setAttribute("aria-label", "Node inspector");
    this.panel.hidden = true;
    const stage = player.root.querySelector(".agp-stage");
    if (stage) stage.appendChild(this.tip);
    (player.root.querySelector(".agp-main") || player.root).appendChild(this.panel);
    for (const [id, copies] of player.nodeEls || []) {
      const info = this.info[id];
      if (!info) continue;
      for (const g of copies) this.attach(g, id, info, stage);
    }
  }

  attach(g, id, info, stage) {
    // Our tooltip replaces the SVG's <title>: two tooltips at once would say the same thing twice.
    for (const title of g.querySelectorAll(":scope > title")) title.remove();
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", `${info.tooltip}. Press Enter for details.`);
    g.classList.add("agp-inspectable");
    const show = (x, y) => this.showTip(info.tooltip, x, y, stage);
    g.addEventListener("pointerenter", (event) => show(event.clientX, event.clientY));
    g.addEventListener("pointermove", (event) => show(event.clientX, event.clientY));
    g.addEventListener("pointerleave", () => this.hideTip());
    g.addEventListener("focus", () => {
      const box = g.getBoundingClientRect();
      show(box.right, box.top);
    });
    g.addEventListener("blur", () => this.hideTip());
    g.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      this.open(id, g);
    });
  }

  showTip(text, clientX, clientY, stage) {
    if (!stage) return;
    const box = stage.getBoundingClientRect();
    this.tip.textContent = text;
    this.tip.hidden = false;
    // Beside the pointer, kept inside the stage (the tooltip is narrower than half a stage).
    const x = Math.min(clientX - box.left + 12, Math.max(box.width - this.tip.offsetWidth - 4, 0));
    const y = Math.min(clientY - box.top + 14, Math.max(box.height - this.tip.offsetHeight - 4, 0));
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${y}px`;
  }

  hideTip() {
    this.tip.hidden = true;
  }

  // A click on the stage that did not drag: open the node under it, if it has info.
  clicked(g) {
    if (!g) return;
    const id = nodeIdOf(g);
    if (this.info[id]) this.open(id, g);
  }

  open(id, opener = null) {
    const info = this.info[id];
    if (!info) return;
    this.openId = id;
    this.opener = opener;
    const model = panelModel(info);
    const panel = this.panel;
    panel.replaceChildren();
    panel.dataset.node = id;
    panel.dataset.kind = info.kind;
    const head = element("div", "agp-inspector-head");
    head.append(element("h3", "agp-inspector-title", model.title));
    const close = element("button", "agp-inspector-close", "×");
    close.type = "button";
    close.title = "Close (Escape)";
    close.setAttribute("aria-label", "Close the node inspector");
    close.addEventListener("click", () => this.close());
    head.append(close);
    panel.append(head, element("p", "agp-inspector-what", model.what));
    const facts = element("dl", "agp-inspector-facts");
    for (const [label, text] of model.facts) facts.append(element("dt", "", label), element("dd", "", text));
    panel.append(facts);
    for (const { heading, items } of model.sections) {
      panel.append(element("h4", "", heading));
      const list = element("ul", "agp-inspector-list");
      for (const { term, text } of items) {
        const item = element("li");
        item.append(element("code", "", term), element("span", "", text)); // the words under their term
        list.append(item);
      }
      panel.append(list);
    }
    panel.append(element("h4", "", "At this step"));
    this.stepList = element("ul", "agp-inspector-step");
    this.stepList.setAttribute("aria-live", "polite");
    panel.append(this.stepList);
    panel.hidden = false;
    this.showStep(this.index);
  }

  // Called with every frame drawn: the "at this step" lines follow the frame on screen.
  showStep(index) {
    this.index = index;
    if (this.openId === null) return;
    this.stepList.replaceChildren(...stepLines(this.info[this.openId], index).map((line) => element("li", "", line)));
  }

  // Escape: true when there was a panel to close (then the key is ours, not the page's).
  close() {
    if (this.openId === null) return false;
    this.openId = null;
    this.panel.hidden = true;
    delete this.panel.dataset.node;
    if (this.opener && this.opener.isConnected) this.opener.focus({ preventScroll: true });
    this.opener = null;
    return true;
  }
}
