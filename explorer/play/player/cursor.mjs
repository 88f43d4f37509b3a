// The player's logic that needs no page: which frame is on screen and how a move gets there,
// playing, the .grad strip's chips, the step report to Python, what the component keeps
// between reruns, and which player answers the page's keys. Nothing here touches the DOM, so
// Node's test runner imports this file as it is (tests/js/, `node --test tests/js/`).
//
// player.js (the view) imports it. Streamlit loads ONE module text, so player_js() in
// explorer/play/player/__init__.py pastes this file, its `export ` words removed, in front of
// player.js, whose `import ... from "./cursor.mjs"` line it drops. Hence: no default export
// here, single-line exports and imports, and no top-level name that player.js uses too.
// (.mjs: Node reads it as an ES module without a package.json.)
//
// The data is Animation.to_dict() (explorer/play/frames.py). The names read here:
//   frames: one per step; the cursor only counts them (the view draws them).
//   story: a hash of what happened (frames, .grad history), the same in every look.
//   signature: a hash of everything drawn except start_step: a new one means a new player.
//   start_step: where a newly mounted player opens (a deep link's ?step=), or null.
//   history.leaves: the leaf names, one row of chips each.
//   history.entries: one per thing done to the leaves, in order, each with
//     action: a machine name, one of "backward", "backward-same-graph", "zero", "set-none",
//             "refused"; the chip gets the CSS class `action-<action>`;
//     label:  the text shown for it: "backward", "backward (same graph)", "zero_()",
//             "set to None", "refused";
//     call:   1, 2, 3 ... for a backward call that ran, else null; a chip with a call reads
//             "call N" (a same-graph call is a call like any other);
//     texts:  leaf name -> its .grad after the entry, as text;
//     current: true for the call the frames animate; message: why it was refused, or "";
//     number: the entry's place in the history, from 1.

export const BASE_INTERVAL_MS = 1100; // one frame at speed 1x
export const SPEEDS = [0.5, 1, 2, 4, 10];
export const REPORT_DELAY_MS = 250; // Python hears about the step once the student stops pressing keys

// Where the player is among its frames, and whether it is playing. Frames before the step have
// happened ("past"), the step's frame is on screen ("present"), the rest are to come ("future").
export class Cursor {
  constructor(length) {
    this.length = length;
    this.step = -1; // nothing on screen yet: the first goTo draws from a clean state
    this.playing = false;
    this.speed = 1;
  }

  get last() {
    return this.length - 1;
  }

  get atEnd() {
    return this.step >= this.last;
  }

  clamp(index) {
    return Math.min(Math.max(index, 0), this.last);
  }

  // Where a player opens: a start step from the data or a link is only a hint (any value, clamped).
  opening(startStep) {
    return this.clamp(Number(startStep) || 0);
  }

  phaseOf(index) {
    if (index < this.step) return "past";
    return index === this.step ? "present" : "future";
  }

  pastFrames() {
    return Array.from({ length: Math.max(this.step, 0) }, (_, i) => i);
  }

  // Move to a frame (clamped). Returns null when that frame is already on screen, else how to
  // draw the move: one frame forward retires the frame on screen (`from`), which is cheap; any
  // other move replays every past frame from a clean state (`replay`).
  goTo(index) {
    const to = this.clamp(index);
    if (to === this.step) return null;
    const move = { from: this.step, to, replay: !(to === this.step + 1 && this.step >= 0) };
    this.step = to;
    return move;
  }

  forward() {
    return this.goTo(this.step + 1);
  }

  back() {
    return this.goTo(this.step - 1);
  }

  toStart() {
    return this.goTo(0);
  }

  toEnd() {
    return this.goTo(this.last);
  }

  // Playing from the end starts again from the beginning: returns that move, or null.
  play() {
    const move = this.atEnd ? this.toStart() : null;
    this.playing = true;
    return move;
  }

  // Returns whether it was playing (only then has the view anything to stop).
  pause() {
    const was = this.playing;
    this.playing = false;
    return was;
  }

  // The time between two frames of a playback at the chosen speed.
  get interval() {
    return BASE_INTERVAL_MS / this.speed;
  }
}

// Tells Python the step, but not on every frame of a playback: each report reruns the page.
// `send(step)` is read when the report goes out, so a rerun that keeps the player can point it
// at its own data's story in the meantime. Nothing goes out while playing (pausing reports).
export class StepReporter {
  constructor(cursor, send = null, delayMs = REPORT_DELAY_MS) {
    this.cursor = cursor;
    this.send = send;
    this.delayMs = delayMs;
    this.timer = null;
  }

  request() {
    if (!this.send) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.cursor.playing) this.send(this.cursor.step);
    }, this.delayMs);
  }

  // A report not yet sent never goes: a destroyed player's step belongs to what it showed.
  cancel() {
    clearTimeout(this.timer);
  }
}

// The report Python reads (explorer/ui/player.py, reported_step): the step goes back with the
// story it belongs to, so a step reported for an earlier story (before a zeroing or a refused
// call changed what the player tells) is known to be stale and is not written into the link.
export function stepReport(story, step) {
  return { story, step };
}

// What one chip of the .grad strip shows for a history entry and a leaf.
export function chipOf(entry, leaf) {
  return {
    className: `agp-chip action-${entry.action}${entry.current ? " current" : ""}`,
    title: entry.message || entry.label,
    action: entry.call != null ? `call ${entry.call}` : entry.label,
    value: entry.action === "refused" ? "refused" : entry.texts[leaf],
  };
}

// What the Streamlit component keeps between reruns (one per parentElement): the player it built.
// Streamlit calls the component again whenever the page reruns, and never calls the previous
// cleanup in between, so the player is rebuilt only when the animation changed.
//   `mount({onStep, startStep, newCall})` builds a player for the new data; a player has `data`,
//   `cursor`, `reporter`, `linkedKey`, `connected`, `linkKey(key)`, `report()` and `destroy()`.
//   `setStateValue` is Streamlit's: the step goes to Python as stepReport(story, step) under "step".
export class PlayerSlot {
  constructor() {
    this.player = null;
  }

  show(data, setStateValue, mount) {
    const existing = this.player;
    const live = existing && existing.connected ? existing : null;
    const send = (step) => setStateValue("step", stepReport(data.story, step));
    if (live && live.data.signature === data.signature) {
      live.reporter.send = send;
      return () => live.destroy();
    }
    // A new animation opens at its start_step (a deep link's ?step=), or at the beginning. The same
    // pass drawn in another look (lecturer mode, theme) keeps the step and the picked forward line.
    const opening = data.start_step ?? 0;
    const sameStory = Boolean(live && data.story && live.data.story === data.story);
    const startStep = sameStory ? live.cursor.step : opening;
    const linked = sameStory ? live.linkedKey : null;
    if (existing) existing.destroy();
    // Python marks the data of the run a call was made in (data.autoplay); a new look of the same
    // story is not a new call, whatever the mark says.
    const newCall = Boolean(data.autoplay) && !sameStory;
    const player = mount({ onStep: send, startStep, newCall });
    if (linked) player.linkKey(linked);
    // The old player may have been rebuilt before it could report (lecturer mode switched on at
    // once after stepping): if the kept step is not the one Python knows, tell it now.
    if (sameStory && startStep !== opening) player.report();
    this.player = player;
    return () => {
      player.destroy();
      if (this.player === player) this.player = null;
    };
  }
}

// The player whose shortcuts work when nothing in particular has focus (the page body): one per
// page, shared by the players on it. A new player takes the keys unless a live one has them.
export class KeyboardOwner {
  constructor() {
    this.player = null;
  }

  offer(player) {
    if (!this.player || !this.player.connected) this.player = player;
  }

  claim(player) {
    this.player = player;
  }

  release(player) {
    if (this.player === player) this.player = null;
  }

  owns(player) {
    return this.player === player;
  }
}

// -- the page's keys --------------------------------------------------------------------------
// The player listens on the whole document, so a key works without clicking the player first, and
// it must take Space from a Streamlit button or toggle that kept the focus after a click (Space
// would press it again: another real backward call, lecturer mode switched off). What it never
// takes: typing (a text field), and the arrows from a slider, which moves itself with them.
const NOT_TEXT_INPUTS = new Set(["button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit"]);

export function isTextField(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName.toLowerCase();
  if (tag === "input") return !NOT_TEXT_INPUTS.has(String(target.type || "text").toLowerCase());
  return tag === "textarea" || tag === "select" || Boolean(target.isContentEditable);
}

function isSlider(target) {
  const tag = target && target.tagName ? target.tagName.toLowerCase() : "";
  const role = target && target.getAttribute ? target.getAttribute("role") : null;
  return (tag === "input" && target.type === "range") || role === "slider";
}

const PLAYER_KEYS = { " ": "toggle", ArrowRight: "next", ArrowLeft: "prev", Home: "first", End: "last", "?": "help", Escape: "escape" };

// What a key pressed on the page means to the player that owns the keys, or null (not its key).
// `target` is the element the key went to (the first of the event's composed path, inside a shadow
// root too); `ownButton`: it is one of the player's own buttons, which Space and Enter click.
export function keyAction({ key, altKey, ctrlKey, metaKey, target, ownButton = false }) {
  if (altKey || ctrlKey || metaKey) return null;
  const action = PLAYER_KEYS[key] || null; // C and R stay Streamlit's
  if (!action || isTextField(target)) return null;
  if (ownButton && key === " ") return null;
  if (isSlider(target) && key !== " " && key !== "?" && key !== "Escape") return null;
  return action;
}

// -- playing once by itself -----------------------------------------------------------------
// A new call's player plays its animation once, so that a click visibly does something. Not a
// rerun of the same animation or the same story in another look (the slot keeps the step then),
// not a player opened at a linked step (the link must show that step), and not when the student
// switched autoplay off or the system asks for reduced motion.
export function shouldAutoplay({ newCall, startStep, enabled, reducedMotion }) {
  return Boolean(newCall) && (startStep === null || startStep === undefined) && Boolean(enabled) && !reducedMotion;
}

// A new call's player is brought into view when its graph is out of sight: in lecturer mode at
// 1920x1080 the buttons alone fill the first screen, so the animation the click started played
// below the fold. Lecturer mode (`most` 0.5) scrolls when the graph's top is below the middle of
// the window, since the room must see the graph; a student's page (`most` 1) only when none of it
// shows, since scrolling takes the buttons they click next out of view. A player opened from a
// link or a rerun (not a new call) stays where it is.
export function shouldBringIntoView({ newCall, stageTop, stageBottom, windowHeight, most = 0.5 }) {
  if (!newCall || !(windowHeight > 0)) return false;
  return stageBottom < 0 || stageTop > windowHeight * most;
}

export const AUTOPLAY_KEY = "agp-autoplay";

// The student's autoplay choice, kept in `storage` (localStorage) when the page may use it: a
// sandboxed iframe (a notebook's) throws on merely reading window.localStorage, so `storage` is a
// function and every use is guarded. On by default.
export class AutoplayChoice {
  constructor(storage = () => null) {
    this.storage = storage;
  }

  store() {
    try {
      return this.storage() || null;
    } catch {
      return null;
    }
  }

  get enabled() {
    const store = this.store();
    try {
      return !store || store.getItem(AUTOPLAY_KEY) !== "off";
    } catch {
      return true;
    }
  }

  set enabled(on) {
    const store = this.store();
    try {
      if (store) store.setItem(AUTOPLAY_KEY, on ? "on" : "off");
    } catch {
      // storage full or refused: the choice holds for this player only
    }
  }
}

// -- framing ---------------------------------------------------------------------------------
// The scale a fitted graph is drawn at. `fitW`, `fitH`: the scales that fit its width and its
// height into the stage; `cap`: no poster-sized tiny graphs; `minScale`: below it the labels are
// too small to read (lecturer mode: 24px on screen), so the graph overflows and the student pans
// (fitted to the width when that is readable) rather than getting a whole graph nobody can read.
export function fittedScale({ fitW, fitH, cap, minScale = 0 }) {
  const whole = Math.min(fitW, fitH, cap);
  return whole >= minScale ? whole : Math.max(minScale, Math.min(fitW, cap));
}
