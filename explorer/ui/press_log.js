// The press log's listener, run by st.html as soon as the page's action buttons are drawn (a
// component's code loads later, ~1-2 s after the page: a click before then was a bare Streamlit
// trigger, and a trigger is lost when another request interrupts the run it started).
//
// Every click on an action button is taken here, before Streamlit sees it, and appended to the
// log of that page's session token: [seq, button name, retain_graph ticked]. The press counter
// (presses_counter.js, a component) sends the whole log to Python once it is mounted, and again
// on every new press; explorer/ui/presses.py applies each entry it has not applied yet, once.
(function (config) {
  const registry = window.__agpPresses || (window.__agpPresses = { logs: new Map(), listening: false });
  let log = registry.logs.get(config.token);
  if (!log) {
    log = { seq: 0, entries: [], sent: 0, send: null, show: () => {} };
    registry.logs.set(config.token, log);
  }
  log.config = config;
  if (registry.listening) return;
  registry.listening = true;
  // Capture phase on the document: before React's own handler on the app's root, which would send
  // the button's trigger.
  document.addEventListener("click", (event) => {
    const button = event.target && event.target.closest ? event.target.closest("button") : null;
    const holder = button && button.closest("[class*='st-key-']");
    if (!holder || button.disabled) return;
    for (const entry of registry.logs.values()) {
      const name = Object.entries(entry.config.buttons).find(([cls]) => holder.classList.contains(cls));
      if (!name) continue;
      event.preventDefault();
      event.stopImmediatePropagation();
      const box = document.querySelector(`.${entry.config.retain} input[type=checkbox]`);
      entry.seq += 1;
      entry.entries.push([entry.seq, name[1], Boolean(box && box.checked)]);
      if (entry.entries.length > config.most) entry.entries.shift();
      if (entry.send) {
        entry.sent = entry.seq;
        entry.send("presses", { token: entry.config.token, log: entry.entries.slice() });
      }
      entry.show();
      return;
    }
  }, true);
})
