"""Moving around the app: lecturer mode's bar and keys, one press of Back per page, no missing files."""

import re

from playwright.sync_api import expect

from browser_support import screenshot, wait_for_app
from explorer.ui.navigation import ORDER, TITLES, url_path

# Counts the browser's history calls, installed before any of the page's own scripts.
HISTORY_SPY = """
window.__history = {push: 0, replace: 0};
for (const [name, count] of [['pushState', 'push'], ['replaceState', 'replace']]) {
  const original = history[name].bind(history);
  history[name] = (...args) => { window.__history[count] += 1; return original(...args); };
}
"""


def heading(page, key):
    return page.get_by_role("heading", name=TITLES[key], exact=True)


def test_lecturer_bar_moves_to_the_next_and_previous_page(page, server):
    page.goto(f"{server}/{url_path('gradients')}?present=1")
    wait_for_app(page)
    at = ORDER.index("gradients")
    before, after = ORDER[at - 1], ORDER[at + 1]
    # exact: the page's own "Next: ... →" link at its foot has the same words in a longer name
    expect(page.get_by_role("link", name=f"← {TITLES[before]}", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=f"{TITLES[after]} →", exact=True)).to_be_visible()
    page.get_by_role("button", name="Pages").click()
    for key in ORDER:
        expect(page.get_by_role("link", name=TITLES[key], exact=True)).to_be_attached()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    heading(page, "gradients").click()  # away from any box, so the key is the page's
    page.keyboard.press("]")
    wait_for_app(page)
    expect(page).to_have_url(re.compile(rf"/{url_path(after)}\?present=1$"))
    expect(heading(page, after)).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden()  # still in lecturer mode
    page.keyboard.press("[")
    wait_for_app(page)
    expect(page).to_have_url(re.compile(rf"/{url_path('gradients')}\?present=1(&|$)"))  # and its call, kept
    expect(heading(page, "gradients")).to_be_visible()


def test_keys_typed_into_a_box_stay_in_the_box(page, server):
    page.goto(f"{server}/{url_path('gradients')}?present=1")
    wait_for_app(page)
    box = page.get_by_label("x =", exact=True)
    box.click()
    box.press("]")
    expect(box).to_have_value("3]")
    expect(heading(page, "gradients")).to_be_visible()


def test_lecturer_mode_screenshots(page, server):
    for width, height in ((1920, 1080), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{server}/{url_path('exercises')}?present=1&lesson=exercise-3&predict=0")
        wait_for_app(page)
        following = ORDER[ORDER.index("exercises") + 1]
        expect(page.get_by_role("link", name=f"{TITLES[following]} →", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Call .backward()")).to_be_visible()
        expect(page.locator("[data-testid='stSkeleton']")).to_have_count(0)
        screenshot(page, f"lecturer-bar-{width}x{height}")


def test_back_leaves_a_page_in_one_press_whatever_was_clicked(page, server):
    page.context.add_init_script(HISTORY_SPY)
    page.goto(server)
    wait_for_app(page)
    page.get_by_role("link", name=re.compile(TITLES["accumulation"])).first.click()
    wait_for_app(page)
    expect(heading(page, "accumulation")).to_be_visible()
    pushes = page.evaluate("window.__history.push")
    for button in ("Call .backward()", "Call .backward()", ".grad.zero_()", "Call .backward()"):
        page.get_by_role("button", name=button).click()
        wait_for_app(page)
    expect(page).to_have_url(re.compile(r"ops=bbzb"))
    history = page.evaluate("window.__history")
    assert history["push"] == pushes and history["replace"] >= 1  # each click replaced the address
    page.go_back()
    expect(page).to_have_url(re.compile(r"/(\?.*)?$"))
    expect(heading(page, "home")).to_be_visible()


# On a page's own path Streamlit's client first asks that path for its server (/Accumulation/_stcore/health),
# then the root: those two probes fail by design, on every Streamlit app.
BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def test_no_request_fails_and_the_favicon_is_an_image(page, server):
    failed = []
    page.on("response", lambda response: failed.append(response.url)
            if response.status >= 400 and not BASE_PATH_PROBE.search(response.url) else None)
    for address in ("", f"/{url_path('accumulation')}"):
        page.goto(server + address)
        wait_for_app(page)
        expect(page.locator("link[rel~='icon']").first).to_have_attribute("href", re.compile(r"^data:image/svg"))
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert failed == [], failed
