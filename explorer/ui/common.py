"""Page furniture every page shares: configuration, the sidebar with the one colour legend, SVG display."""

from __future__ import annotations

import html

import streamlit as st

from explorer.drawing.legend import Palette, legend_items
from explorer.ui.navigation import APP_TITLE, FAVICON, lecturer_bar, replace_in_page_history, titles
from explorer.ui.state import current_look, presentation_toggle, start_url


def setup_page(page_key: str) -> None:
    """Page configuration, the shared sidebar, lecturer mode's bar, and the title: the page's one name."""
    title = titles()[page_key]
    page_title = APP_TITLE if title == APP_TITLE else f"{title} · {APP_TITLE}"
    st.set_page_config(page_title=page_title, page_icon=FAVICON, layout="wide")
    replace_in_page_history()
    start_url()
    lecturer = presentation_toggle()
    # The bar's container is there in both modes, so switching never moves the elements after it: a
    # moved player is a new one, and lost the step the student had stepped to.
    with st.container():
        if lecturer:
            lecturer_bar(page_key)
    st.title(title)
    with st.sidebar:
        st.markdown(f"**{APP_TITLE}**: what PyTorch's autograd really does, on real tensors.")
        st.markdown(legend_html(current_look().palette), unsafe_allow_html=True)


def legend_html(palette: Palette) -> str:
    """The legend in the graph's own colours (theme, lecturer mode), borders included."""
    rows = "".join(
        f'<div style="display:flex;align-items:center;gap:.5em;margin:.15em 0">'
        f'<span style="display:inline-block;width:1.1em;height:1.1em;border-radius:3px;flex:none;'
        f'border:{"3px" if border else "1px"} solid {border or palette.edge};background:{colour}"></span>'
        f'{html.escape(label)}</div>'
        for colour, label, border in legend_items(palette)
    )
    return f'<div class="legend"><b>Legend</b>{rows}</div>'


def show_svg(svg: str) -> None:
    """A static Graphviz SVG at its own size, narrowed to fit the column but never blown up (a
    five-node graph stretched to the page's width had 60-pixel type). st.html strips SVG
    elements, so it goes in as an image."""
    st.image(svg, width="content")

