// Unit tests of the node inspector's DOM-free part (explorer/play/player/inspector.mjs): what the
// panel says for a node's info, and the "at this step" lines as the frame on screen changes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { panelModel, stepLines } from "../../explorer/play/player/inspector.mjs";

const POW = {
  kind: "op", name: "PowBackward0", title: "PowBackward0 (of x)", what: "A backward op ...",
  shape: null, shape_words: null, dtype: null, value: null, meaning: null,
  forward: { line: "t1 = x ** 2", value: "9" },
  attrs: [{ name: "exponent", value: "2", meaning: "the power" }],
  saved: [{ name: "self", node: "n3", value: "3", meaning: "the first input", is: "x" }],
  derivatives: [{ slot: 0, to: "AccumulateGrad (x)", formula: "d(u^2)/du = 2·x", at: "2·x = 2·3 = 6", local: 6 }],
  runs: [{ frame: 2, arrived: "1", left: [{ to: "AccumulateGrad (x)", text: "6" }], grad_before: null, grad_after: null }],
};

describe("panelModel", () => {
  test("an op: title, forward line, derivative with its recorded numbers, saved tensors, attributes", () => {
    const model = panelModel(POW);
    assert.equal(model.title, "PowBackward0 (of x)");
    assert.deepEqual(model.facts, [["Node", "PowBackward0"], ["Forward", "t1 = x ** 2 = 9"]]);
    assert.deepEqual(model.sections.map((s) => s.heading), ["Local derivative, per input", "Saved tensors", "Attributes"]);
    assert.deepEqual(model.sections[0].items[0], { term: "input 0 → AccumulateGrad (x)", text: "d(u^2)/du = 2·x; here: 2·x = 2·3 = 6" });
    assert.equal(model.sections[1].items[0].term, "self = 3 (is x)");
    assert.equal(model.sections[2].items[0].term, "exponent: 2");
  });

  test("a tensor: its shape in words and as numbers, dtype and value; no empty sections", () => {
    const model = panelModel({ kind: "leaf", name: "v", what: "A leaf", shape: [3], shape_words: "vector of 3",
      dtype: "float32", value: "[1, 2, 3]", attrs: [], saved: [], derivatives: [], runs: [] });
    assert.deepEqual(model.facts, [["Node", "v"], ["Shape", "vector of 3 (3,)"], ["dtype", "float32"], ["Value", "[1, 2, 3]"]]);
    assert.deepEqual(model.sections, []);
  });
});

describe("stepLines", () => {
  test("before, at and after the frame the node runs", () => {
    assert.deepEqual(stepLines(POW, 1), ["Not reached yet: it runs at step 2."]);
    assert.deepEqual(stepLines(POW, 2), ["Running at this step:", "arrived: 1", "left: 6 → AccumulateGrad (x)"]);
    assert.equal(stepLines(POW, 5)[0], "Ran at step 2:");
  });

  test("a leaf shows its .grad before and after; a saved tensor never runs", () => {
    const leaf = { kind: "leaf", name: "x", runs: [{ frame: 3, arrived: "6", left: [], grad_before: "None", grad_after: "6" }] };
    assert.deepEqual(stepLines(leaf, 3), ["Running at this step:", "arrived: 6", "x.grad: None → 6"]);
    assert.match(stepLines({ kind: "saved", runs: [] }, 3)[0], /saved tensor/);
  });
});
