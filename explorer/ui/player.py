"""The backward-pass player inside a Streamlit page (a components-v2 component).

The component is declared once, when this module is imported: its definition is only the
player's JS and CSS text and holds no tensors or session data. Each page mounts it with the
plain data of frames.build_animation(), and gets back the step the student is looking at.

Everything else happens in the browser, without a rerun: the look (build_animation's `look`)
styles the player's own controls too; a new animation opens at its `start_step`; the same pass
in another look (lecturer mode toggled, theme changed) keeps the step and the forward line the
student picked; picking a line of the forward pass outlines its node and reports nothing.
"""

from __future__ import annotations

import streamlit as st

from explorer.play.frames import Animation
from explorer.play.player import player_css, player_js

COMPONENT_NAME = "autograd_explorer.backward_player"

_player = st.components.v2.component(COMPONENT_NAME, js=player_js(), css=player_css())


def show_player(animation: Animation, key: str, autoplay: bool = False) -> int | None:
    """Mount the player; returns the step the student stopped at (None until they move it).

    The player reports the step when the student steps, scrubs or pauses, not on every frame of
    a playback: each report reruns the page. A report carries the story it was made in; one from
    an earlier story (the same call before a zeroing changed its strip) is stale and ignored.

    `autoplay`: this run made the call the animation shows, so a newly mounted player plays it once
    (unless the student or the system said no). It is not part of the signature: the rerun after
    the click keeps the same player rather than building one that does not play.
    """
    data = {**animation.to_dict(), "autoplay": autoplay}
    result = _player(key=key, data=data, on_step_change=lambda: None)
    return reported_step(result.get("step"), animation.story)


def preload_player(key: str) -> None:
    """Mount the component with no animation, so the browser loads its module with the page: the
    session's first .backward() then shows its player as fast as later ones (Streamlit fetches a
    component's code the first time one is shown; that was 0.4 s of the first click)."""
    _player(key=key, data={"preload": True})


def reported_step(report, story: str) -> int | None:
    """The step in a player's report, if it was made in this story."""
    if not isinstance(report, dict) or report.get("story") != story:
        return None
    step = report.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None
