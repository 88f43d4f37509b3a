// The player as a Jupyter widget (anywidget): the page's action buttons above the same player.
//
// widget_js() (explorer/play/player/__init__.py) pastes this file after the player's module text,
// so mountPlayer and PlayerSlot are in scope here; this file's default export is the widget's.
//
// The model's state is plain data made by explorer/play/widget.py: `buttons` ([name, label,
// tooltip] each), `animation` (frames.Animation.to_dict(), or {} before any call), `graph_svg`
// (the graph before any call), `status` (each leaf's .grad as PyTorch holds it), `message`
// (PyTorch's refusal, or ""), `applied` (view token -> the last press Python applied).
//
// Every click is one call, however quickly they come (issue 16's rule): a click is sent at once
// as a message {press, retain, seq, view}, numbered per view, and Python applies each number
// once, in order. While some wait, the status line says how many.

function viewToken() {
  const random = Math.random().toString(36).slice(2, 10);
  return `${Date.now().toString(36)}-${random}`;
}

function renderWidget({ model, el }) {
  const view = viewToken();
  let sent = 0;
  el.classList.add("aex-widget");
  el.innerHTML = `
    <div class="aex-title"></div>
    <div class="aex-bar" role="toolbar" aria-label="Autograd actions"></div>
    <label class="aex-retain"><input type="checkbox"> retain_graph=True (keep the saved values for another pass)</label>
    <div class="aex-status" aria-live="polite"></div>
    <div class="aex-queued" aria-live="polite" hidden></div>
    <div class="aex-message" role="alert" hidden></div>
    <div class="aex-graph" hidden></div>
    <div class="aex-player"></div>`;
  const $ = (selector) => el.querySelector(selector);
  const retain = $(".aex-retain input");

  for (const [name, label, help] of model.get("buttons") || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `aex-button aex-${name}`;
    button.dataset.press = name;
    button.textContent = label;
    button.title = help;
    button.addEventListener("click", () => {
      sent += 1;
      model.send({ press: name, retain: retain.checked, seq: sent, view });
      showQueued();
    });
    $(".aex-bar").appendChild(button);
  }

  function showQueued() {
    const applied = (model.get("applied") || {})[view] || 0;
    const waiting = sent - applied;
    const queued = $(".aex-queued");
    queued.hidden = waiting <= 0;
    queued.textContent = waiting > 0 ? `${waiting} press${waiting === 1 ? "" : "es"} queued…` : "";
  }

  function showText() {
    $(".aex-title").textContent = model.get("title") || "";
    $(".aex-status").textContent = model.get("status") || "";
    const message = $(".aex-message");
    message.textContent = model.get("message") || "";
    message.hidden = !message.textContent;
  }

  // One player per view; PlayerSlot (cursor.mjs) keeps it while the same animation comes again
  // and replaces it when a call brings a new one.
  const slot = new PlayerSlot();
  let disposePlayer = null;
  function showPicture() {
    const data = model.get("animation") || {};
    const graph = $(".aex-graph");
    const holder = $(".aex-player");
    if (data.frames) {
      graph.hidden = true;
      graph.innerHTML = "";
      holder.hidden = false;
      disposePlayer = slot.show(data, () => {}, (options) => mountPlayer(holder, data, { ...options, keysOnPage: false }));
    } else {
      if (disposePlayer) disposePlayer();
      disposePlayer = null;
      holder.hidden = true;
      graph.innerHTML = model.get("graph_svg") || "";
      graph.hidden = !graph.innerHTML;
    }
  }

  // The notebook's theme, followed when it changes: JupyterLab and Notebook 7 say it on <body
  // data-jp-theme-light>, Colab on <html theme>; VS Code gives its colours as CSS variables.
  function notebookIsDark() {
    const light = document.body.dataset.jpThemeLight;
    if (light === "true" || light === "false") return light === "false";
    const colab = document.documentElement.getAttribute("theme");
    if (colab === "dark" || colab === "light") return colab === "dark";
    return isDarkColour(resolvedColour(el, "var(--jp-layout-color0, var(--vscode-editor-background, #ffffff))"));
  }
  function followTheme() {
    const dark = notebookIsDark();
    if (dark === Boolean(model.get("dark"))) return;
    model.set("dark", dark);
    model.save_changes(); // Python draws the picture again in that look (widget.py)
  }
  const themeWatch = new MutationObserver(followTheme);
  for (const node of [document.body, document.documentElement]) {
    themeWatch.observe(node, { attributes: true, attributeFilter: ["data-jp-theme-light", "theme", "class"] });
  }
  followTheme();

  showText();
  showPicture();
  showQueued();
  const onText = () => showText();
  const onPicture = () => showPicture();
  const onApplied = () => showQueued();
  const events = [["change:title", onText], ["change:status", onText], ["change:message", onText],
    ["change:animation", onPicture], ["change:graph_svg", onPicture], ["change:applied", onApplied]];
  for (const [event, handler] of events) model.on(event, handler);
  return () => {
    for (const [event, handler] of events) model.off(event, handler);
    themeWatch.disconnect();
    if (disposePlayer) disposePlayer();
  };
}

export default { render: renderWidget };
