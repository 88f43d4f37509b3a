// Unit tests of the page's keys, autoplay and framing rules in cursor.mjs (DOM-free), with Node's
// own runner: `node --test tests/js/`.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AUTOPLAY_KEY, AutoplayChoice, PlayerSlot, fittedScale, isTextField, keyAction, shouldAutoplay, shouldBringIntoView } from "../../explorer/play/player/cursor.mjs";

// The little of an element keyAction reads.
const element = (tagName, { type, role, editable = false } = {}) => ({
  tagName: tagName.toUpperCase(),
  type,
  isContentEditable: editable,
  getAttribute: (name) => (name === "role" ? role ?? null : null),
});
const press = (key, target, more = {}) => keyAction({ key, altKey: false, ctrlKey: false, metaKey: false, target, ...more });

describe("keyAction: which keys the player takes from the page", () => {
  test("Space, the arrows, Home, End and ? step the player from the body and from a Streamlit button or toggle", () => {
    for (const target of [element("body"), element("button"), element("input", { type: "checkbox", role: "switch" })]) {
      assert.deepEqual([" ", "ArrowRight", "ArrowLeft", "Home", "End", "?"].map((key) => press(key, target)),
        ["toggle", "next", "prev", "first", "last", "help"]);
    }
  });

  test("typing in a text field is never taken", () => {
    for (const target of [element("input"), element("input", { type: "number" }), element("textarea"),
      element("select"), element("div", { editable: true })]) {
      assert.equal(isTextField(target), true);
      assert.equal(press(" ", target), null);
      assert.equal(press("ArrowLeft", target), null);
    }
    assert.equal(isTextField(element("input", { type: "checkbox" })), false);
  });

  test("a slider keeps its arrows, Home and End; Space still plays", () => {
    for (const target of [element("input", { type: "range" }), element("div", { role: "slider" })]) {
      assert.equal(press("ArrowRight", target), null);
      assert.equal(press("End", target), null);
      assert.equal(press(" ", target), "toggle");
    }
  });

  test("the player's own button keeps Space (its click); modifiers and Streamlit's C and R are left alone", () => {
    assert.equal(press(" ", element("button"), { ownButton: true }), null);
    assert.equal(press("ArrowRight", element("button"), { ownButton: true }), "next");
    assert.equal(press("ArrowRight", element("body"), { ctrlKey: true }), null);
    assert.equal(press("c", element("body")), null);
    assert.equal(press("r", element("body")), null);
    assert.equal(press("Escape", element("body")), "escape");
  });
});

describe("autoplay", () => {
  test("only a new call's player, opened with no linked step, with autoplay on and motion allowed", () => {
    const base = { newCall: true, startStep: null, enabled: true, reducedMotion: false };
    assert.equal(shouldAutoplay(base), true);
    assert.equal(shouldAutoplay({ ...base, startStep: undefined }), true);
    assert.equal(shouldAutoplay({ ...base, newCall: false }), false);
    assert.equal(shouldAutoplay({ ...base, startStep: 0 }), false); // a link's ?step=0 shows step 0
    assert.equal(shouldAutoplay({ ...base, enabled: false }), false);
    assert.equal(shouldAutoplay({ ...base, reducedMotion: true }), false);
  });

  test("the choice is remembered in the storage, on by default", () => {
    const saved = new Map();
    const storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => saved.set(k, v) };
    const choice = new AutoplayChoice(() => storage);
    assert.equal(choice.enabled, true);
    choice.enabled = false;
    assert.equal(saved.get(AUTOPLAY_KEY), "off");
    assert.equal(new AutoplayChoice(() => storage).enabled, false);
  });

  test("a sandboxed iframe that refuses the storage leaves autoplay on and throws nothing", () => {
    const refused = new AutoplayChoice(() => { throw new Error("SecurityError"); });
    assert.equal(refused.enabled, true);
    refused.enabled = false; // nowhere to keep it, and no error
    const failing = new AutoplayChoice(() => ({ getItem: () => { throw new Error("no"); }, setItem: () => { throw new Error("full"); } }));
    assert.equal(failing.enabled, true);
    failing.enabled = false;
  });

  test("the slot marks a mount as a new call only for a new story marked by Python", () => {
    const mounts = [];
    const mount = (options) => {
      const player = { data: null, cursor: { step: options.startStep }, connected: true, linkedKey: null,
        reporter: {}, linkKey() {}, report() {}, destroy() { this.connected = false; } };
      mounts.push(options);
      return player;
    };
    const slot = new PlayerSlot();
    const show = (data) => {
      slot.show(data, () => {}, (options) => Object.assign(mount(options), { data }));
    };
    show({ signature: "a", story: "s1", autoplay: true });
    show({ signature: "b", story: "s1", autoplay: true }); // lecturer mode switched: the same story
    show({ signature: "c", story: "s2", autoplay: false }); // a rerun of a page Python did not mark
    assert.deepEqual(mounts.map((m) => m.newCall), [true, false, false]);
  });
});

describe("fittedScale: readable before whole", () => {
  test("a graph that fits readably is fitted whole, never above the cap", () => {
    assert.equal(fittedScale({ fitW: 2, fitH: 1.2, cap: 1.6, minScale: 1 }), 1.2);
    assert.equal(fittedScale({ fitW: 3, fitH: 2, cap: 1.6 }), 1.6);
  });

  test("too small to read whole: fitted to the width when that is readable, else the smallest readable scale", () => {
    assert.equal(fittedScale({ fitW: 1.4, fitH: 0.5, cap: 1.6, minScale: 1 }), 1.4); // pan vertically
    assert.equal(fittedScale({ fitW: 0.6, fitH: 0.5, cap: 1.6, minScale: 1 }), 1); // pan both ways
  });
});

describe("a new call's player comes into view", () => {
  const base = { newCall: true, windowHeight: 1000 };
  test("when its graph starts below the middle of the window, or is above it", () => {
    assert.equal(shouldBringIntoView({ ...base, stageTop: 1200, stageBottom: 1800 }), true); // below the fold
    assert.equal(shouldBringIntoView({ ...base, stageTop: 700, stageBottom: 1300 }), true); // mostly below
    assert.equal(shouldBringIntoView({ ...base, stageTop: -900, stageBottom: -20 }), true); // scrolled past
  });
  test("not when its graph is already in the upper half, nor for a rerun or a link", () => {
    assert.equal(shouldBringIntoView({ ...base, stageTop: 300, stageBottom: 900 }), false);
    assert.equal(shouldBringIntoView({ ...base, stageTop: -100, stageBottom: 600 }), false);
    assert.equal(shouldBringIntoView({ ...base, newCall: false, stageTop: 1200, stageBottom: 1800 }), false);
    assert.equal(shouldBringIntoView({ ...base, windowHeight: 0, stageTop: 1200, stageBottom: 1800 }), false);
  });
  test("a student's page scrolls only when none of the graph shows", () => {
    const student = { ...base, most: 1 };
    assert.equal(shouldBringIntoView({ ...student, stageTop: 700, stageBottom: 1300 }), false);
    assert.equal(shouldBringIntoView({ ...student, stageTop: 1001, stageBottom: 1600 }), true);
  });
});
