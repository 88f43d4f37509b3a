// The press counter: hands the press log (press_log.js) to Python and shows what is still queued.
//
// A component's state is sent whole with every rerun request, so a list that only grows carries
// every press however they fall; Streamlit's button triggers, by contrast, merge when two clicks
// land during one run. Presses logged before this component was mounted are sent at once.
//
// data: { token, applied }; state "presses": { token, log: [[seq, name, retain], ...] }
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const registry = window.__agpPresses;
  const log = registry && registry.logs.get(data.token);
  if (!log) return undefined; // the listener did not run: Streamlit's own triggers still work

  const badge = parentElement.querySelector(".agp-queued") || document.createElement("div");
  badge.className = "agp-queued";
  badge.setAttribute("aria-live", "polite");
  if (!badge.isConnected) parentElement.appendChild(badge);
  log.show = () => {
    const waiting = log.seq - data.applied;
    badge.textContent = waiting > 0 ? `${waiting} press${waiting > 1 ? "es" : ""} queued…` : "";
  };
  log.show();

  log.send = setStateValue; // the newest mount's: an older one may belong to a page left behind
  if (log.sent < log.seq) {
    log.sent = log.seq;
    setStateValue("presses", { token: data.token, log: log.entries.slice() });
  }
  return undefined;
}
