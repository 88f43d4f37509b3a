// Unit tests of the player's DOM-free module (explorer/play/player/cursor.mjs), with Node's own
// runner: `node --test tests/js/`. Time is a fake clock (below), so the delayed step report is
// tested without waiting for it.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import {
  BASE_INTERVAL_MS,
  Cursor,
  KeyboardOwner,
  PlayerSlot,
  REPORT_DELAY_MS,
  StepReporter,
  chipOf,
  stepReport,
} from "../../explorer/play/player/cursor.mjs";

// A clock of our own for setTimeout/clearTimeout, which cursor.mjs reads when it calls them
// (node:test's mock.timers would do, but Node 18, Debian 12's nodejs, does not have it).
const clock = {
  now: 0,
  pending: new Map(), // id -> {at, run}
  next: 1,
  saved: null,
  install() {
    Object.assign(this, { now: 0, pending: new Map(), next: 1 });
    this.saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
    globalThis.setTimeout = (run, ms = 0) => {
      const id = this.next++;
      this.pending.set(id, { at: this.now + ms, run });
      return id;
    };
    globalThis.clearTimeout = (id) => this.pending.delete(id);
  },
  uninstall() {
    Object.assign(globalThis, this.saved);
  },
  // Let `ms` pass, running what falls due in the order it falls due.
  tick(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].run();
    }
    this.now = end;
  },
};

function withClock() {
  beforeEach(() => clock.install());
  afterEach(() => clock.uninstall());
}

// Five frames: the seed (0), three steps, the end (4).
const FRAMES = 5;

function openedAt(step) {
  const cursor = new Cursor(FRAMES);
  cursor.goTo(step);
  return cursor;
}

function phases(cursor) {
  return Array.from({ length: cursor.length }, (_, i) => cursor.phaseOf(i));
}

describe("Cursor", () => {
  test("the first move draws from a clean state", () => {
    const cursor = new Cursor(FRAMES);
    assert.equal(cursor.step, -1);
    assert.deepEqual(cursor.goTo(0), { from: -1, to: 0, replay: true });
    assert.deepEqual(phases(cursor), ["present", "future", "future", "future", "future"]);
  });

  test("stepping forward retires the frame on screen, one frame at a time", () => {
    const cursor = openedAt(0);
    assert.deepEqual(cursor.forward(), { from: 0, to: 1, replay: false });
    assert.deepEqual(cursor.forward(), { from: 1, to: 2, replay: false });
    assert.equal(cursor.step, 2);
    assert.deepEqual(phases(cursor), ["past", "past", "present", "future", "future"]);
    assert.deepEqual(cursor.pastFrames(), [0, 1]);
  });

  test("stepping back replays the frames that are still past", () => {
    const cursor = openedAt(3);
    assert.deepEqual(cursor.back(), { from: 3, to: 2, replay: true });
    assert.deepEqual(cursor.pastFrames(), [0, 1]);
    assert.deepEqual(phases(cursor), ["past", "past", "present", "future", "future"]);
  });

  test("a jump forward of more than one frame replays too", () => {
    const cursor = openedAt(0);
    assert.deepEqual(cursor.goTo(3), { from: 0, to: 3, replay: true });
  });

  test("to the start and to the end", () => {
    const cursor = openedAt(2);
    assert.deepEqual(cursor.toEnd(), { from: 2, to: 4, replay: true });
    assert.ok(cursor.atEnd);
    assert.deepEqual(cursor.pastFrames(), [0, 1, 2, 3]);
    assert.deepEqual(cursor.toStart(), { from: 4, to: 0, replay: true });
    assert.equal(cursor.atEnd, false);
    assert.deepEqual(cursor.pastFrames(), []);
  });

  test("moves are clamped to the frames, and a move to where it is does nothing", () => {
    const cursor = openedAt(2);
    assert.deepEqual(cursor.goTo(99), { from: 2, to: 4, replay: true });
    assert.equal(cursor.forward(), null); // past the end: stays there
    assert.equal(cursor.toEnd(), null);
    assert.deepEqual(cursor.goTo(-3), { from: 4, to: 0, replay: true });
    assert.equal(cursor.back(), null); // before the start: stays there
    assert.equal(cursor.goTo(0), null);
    assert.equal(cursor.step, 0);
  });

  test("an opening step from the data or a link is clamped, and anything else opens at the start", () => {
    const cursor = new Cursor(FRAMES);
    assert.equal(cursor.opening(3), 3);
    assert.equal(cursor.opening("2"), 2);
    assert.equal(cursor.opening(999), 4);
    assert.equal(cursor.opening(-1), 0);
    for (const nothing of [null, undefined, "later", NaN]) assert.equal(cursor.opening(nothing), 0);
  });

  test("playing from the end starts again at the beginning; elsewhere it goes on from there", () => {
    const atEnd = openedAt(4);
    assert.deepEqual(atEnd.play(), { from: 4, to: 0, replay: true });
    assert.equal(atEnd.playing, true);

    const inside = openedAt(2);
    assert.equal(inside.play(), null);
    assert.equal(inside.step, 2);
    assert.equal(inside.playing, true);
  });

  test("pausing says whether it was playing", () => {
    const cursor = openedAt(1);
    assert.equal(cursor.pause(), false);
    cursor.play();
    assert.equal(cursor.pause(), true);
    assert.equal(cursor.playing, false);
  });

  test("the speed divides the time between frames", () => {
    const cursor = new Cursor(FRAMES);
    assert.equal(cursor.interval, BASE_INTERVAL_MS);
    cursor.speed = 4;
    assert.equal(cursor.interval, BASE_INTERVAL_MS / 4);
  });
});

describe("StepReporter", () => {
  withClock();

  test("reports the step once the student stops, not on every press", () => {
    const cursor = openedAt(0);
    const sent = [];
    const reporter = new StepReporter(cursor, (step) => sent.push(step));
    for (let i = 0; i < 3; i++) {
      cursor.forward();
      reporter.request();
      clock.tick(REPORT_DELAY_MS - 1);
    }
    assert.deepEqual(sent, []);
    clock.tick(1);
    assert.deepEqual(sent, [3]);
    clock.tick(10 * REPORT_DELAY_MS);
    assert.deepEqual(sent, [3]); // once
  });

  test("reports the step the cursor is at when the report goes out", () => {
    const cursor = openedAt(1);
    const sent = [];
    const reporter = new StepReporter(cursor, (step) => sent.push(step));
    reporter.request();
    cursor.toEnd();
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(sent, [4]);
  });

  test("says nothing while playing", () => {
    const cursor = openedAt(1);
    const sent = [];
    const reporter = new StepReporter(cursor, (step) => sent.push(step));
    reporter.request();
    cursor.play();
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(sent, []);
  });

  test("a cancelled report never goes out, and without a listener nothing is scheduled", () => {
    const cursor = openedAt(1);
    const sent = [];
    const reporter = new StepReporter(cursor, (step) => sent.push(step));
    reporter.request();
    reporter.cancel();
    const deaf = new StepReporter(cursor);
    deaf.request();
    assert.equal(deaf.timer, null);
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(sent, []);
  });

  test("the listener is the one set when the report goes out", () => {
    const cursor = openedAt(2);
    const first = [];
    const second = [];
    const reporter = new StepReporter(cursor, (step) => first.push(step));
    reporter.request();
    reporter.send = (step) => second.push(step);
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual([first, second], [[], [2]]);
  });
});

// -- PlayerSlot: what the Streamlit component keeps between reruns ---------------------------
// A stand-in for the view's Player with the real cursor and reporter: what the slot reads and calls.
class FakePlayer {
  constructor(data, { onStep, startStep }) {
    this.data = data;
    this.cursor = new Cursor(FRAMES);
    this.cursor.goTo(this.cursor.opening(startStep));
    this.reporter = new StepReporter(this.cursor, onStep);
    this.linkedKey = null;
    this.connected = true;
    this.destroyed = false;
  }

  linkKey(key) {
    this.linkedKey = key;
  }

  report() {
    this.reporter.request();
  }

  // What the student does: a move, then the report the view asks for.
  step(move) {
    this.cursor[move]();
    this.report();
  }

  destroy() {
    this.reporter.cancel();
    this.connected = false;
    this.destroyed = true;
  }
}

// One component on one page: Streamlit's setStateValue is recorded, and each show() is a rerun.
function component() {
  const slot = new PlayerSlot();
  const state = [];
  const mounted = [];
  const setStateValue = (key, value) => state.push([key, value]);
  const show = (data, setState = setStateValue) => slot.show(data, setState, (options) => {
    const player = new FakePlayer(data, options);
    mounted.push(player);
    return player;
  });
  return { slot, state, mounted, show };
}

const DATA = { signature: "look-1", story: "story-1", start_step: null };

describe("PlayerSlot and the step report", () => {
  withClock();

  test("a report is the step with the story it was made in, under Streamlit's key 'step'", () => {
    const page = component();
    page.show(DATA);
    page.mounted[0].step("forward");
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(page.state, [["step", { story: "story-1", step: 1 }]]);
    assert.deepEqual(stepReport("s", 2), { story: "s", step: 2 });
  });

  test("a new animation opens at its start step and reports nothing by itself", () => {
    const page = component();
    page.show({ ...DATA, start_step: 3 });
    assert.equal(page.mounted[0].cursor.step, 3);
    clock.tick(10 * REPORT_DELAY_MS);
    assert.deepEqual(page.state, []);
  });

  test("a rerun with the same animation keeps the player, and its report goes out", () => {
    const page = component();
    page.show(DATA);
    page.mounted[0].step("toEnd");
    page.show({ ...DATA }); // the rerun the report is about to cause, or any other
    assert.equal(page.mounted.length, 1);
    assert.equal(page.mounted[0].destroyed, false);
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(page.state, [["step", { story: "story-1", step: 4 }]]);
  });

  test("a kept player reports through the setStateValue of the latest rerun", () => {
    const page = component();
    page.show(DATA);
    page.mounted[0].step("forward");
    const latest = [];
    page.show({ ...DATA }, (key, value) => latest.push([key, value])); // Streamlit hands a new one each run
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual([page.state, latest], [[], [["step", { story: "story-1", step: 1 }]]]);
  });

  test("a report from an earlier story never goes out once the story changed", () => {
    const page = component();
    page.show(DATA);
    page.mounted[0].step("forward"); // pending: step 1 of story-1
    page.show({ signature: "look-2", story: "story-2", start_step: null }); // a zeroing: another story
    assert.equal(page.mounted[0].destroyed, true);
    assert.equal(page.mounted[1].cursor.step, 0); // a new story opens at its start
    clock.tick(10 * REPORT_DELAY_MS);
    assert.deepEqual(page.state, []);
    page.mounted[1].step("forward");
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(page.state, [["step", { story: "story-2", step: 1 }]]);
  });

  test("a player rebuilt before its report went out reports the kept step itself", () => {
    const page = component();
    page.show(DATA);
    const old = page.mounted[0];
    old.linkKey("node:n3");
    old.step("forward");
    old.step("forward"); // step 2, its report still pending
    page.show({ ...DATA, signature: "lecturer-look" }); // the same story in another look
    const rebuilt = page.mounted[1];
    assert.equal(old.destroyed, true);
    assert.equal(rebuilt.cursor.step, 2);
    assert.equal(rebuilt.linkedKey, "node:n3");
    clock.tick(REPORT_DELAY_MS);
    assert.deepEqual(page.state, [["step", { story: "story-1", step: 2 }]]);
  });

  test("a rebuilt player whose kept step is the one Python knows says nothing", () => {
    const page = component();
    page.show({ ...DATA, start_step: 2 });
    page.show({ ...DATA, start_step: 2, signature: "dark-look" });
    assert.equal(page.mounted[1].cursor.step, 2);
    clock.tick(10 * REPORT_DELAY_MS);
    assert.deepEqual(page.state, []);
  });

  test("a player gone from the page is replaced, not kept, and its step is not", () => {
    const page = component();
    page.show(DATA);
    page.mounted[0].cursor.goTo(3);
    page.mounted[0].connected = false; // Streamlit replaced the element under it
    page.show(DATA);
    assert.equal(page.mounted.length, 2);
    assert.equal(page.mounted[0].destroyed, true);
    assert.equal(page.mounted[1].cursor.step, 0);
  });

  test("the cleanup destroys the player and empties the slot", () => {
    const page = component();
    const cleanup = page.show(DATA);
    cleanup();
    assert.equal(page.mounted[0].destroyed, true);
    assert.equal(page.slot.player, null);
  });
});

describe("chipOf: a history entry as the .grad strip shows it", () => {
  const entry = (fields) => ({ number: 1, texts: { w: "-2" }, current: false, message: "", call: null, ...fields });

  test("a call that ran reads 'call N', a call on the same graph too", () => {
    const call = chipOf(entry({ action: "backward", label: "backward", call: 1, current: true }), "w");
    assert.deepEqual(call, { className: "agp-chip action-backward current", title: "backward", action: "call 1", value: "-2" });
    const again = chipOf(entry({ action: "backward-same-graph", label: "backward (same graph)", call: 2 }), "w");
    assert.deepEqual(again, {
      className: "agp-chip action-backward-same-graph", title: "backward (same graph)", action: "call 2", value: "-2",
    });
  });

  test("what is not a call reads its label and the .grad after it", () => {
    const zero = chipOf(entry({ action: "zero", label: "zero_()", texts: { w: "0" } }), "w");
    assert.deepEqual([zero.className, zero.action, zero.value], ["agp-chip action-zero", "zero_()", "0"]);
    const none = chipOf(entry({ action: "set-none", label: "set to None", texts: { w: "None" } }), "w");
    assert.deepEqual([none.className, none.action, none.value], ["agp-chip action-set-none", "set to None", "None"]);
  });

  test("a refused call reads 'refused' and tells why in its title", () => {
    const refused = chipOf(entry({ action: "refused", label: "refused", message: "Trying to backward through the graph a second time" }), "w");
    assert.deepEqual(refused, {
      className: "agp-chip action-refused",
      title: "Trying to backward through the graph a second time",
      action: "refused",
      value: "refused",
    });
  });
});

describe("KeyboardOwner: which player answers the page's keys", () => {
  const player = () => ({ connected: true });

  test("the first player takes the keys, a later one only if the owner left the page", () => {
    const keys = new KeyboardOwner();
    const [first, second, third] = [player(), player(), player()];
    keys.offer(first);
    keys.offer(second);
    assert.ok(keys.owns(first) && !keys.owns(second));
    first.connected = false;
    keys.offer(third);
    assert.ok(keys.owns(third));
  });

  test("the player last used claims the keys; releasing is for the owner only", () => {
    const keys = new KeyboardOwner();
    const [first, second] = [player(), player()];
    keys.offer(first);
    keys.claim(second);
    assert.ok(keys.owns(second));
    keys.release(first); // not the owner: nothing changes
    assert.ok(keys.owns(second));
    keys.release(second);
    assert.equal(keys.player, null);
  });
});
