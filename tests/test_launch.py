"""`python -m explorer app`: the command it becomes, and its one-line errors (tests/test_package.py
starts it for real from an installed wheel)."""

from __future__ import annotations

import sys

from streamlit import file_util
from support import run_cli

from explorer import launch


def test_app_becomes_streamlit_run_of_the_packaged_entrypoint(capsys, monkeypatch):
    became = []
    monkeypatch.setattr(launch.os, "execv", lambda path, command: became.append((path, command)))
    status, _, _ = run_cli(capsys, "app", "--port", "8614", "--", "--server.address", "127.0.0.1")
    assert status == 0
    assert became == [(sys.executable, [sys.executable, "-m", "streamlit", "run", str(launch.ENTRYPOINT),
                                        "--server.port", "8614", "--server.address", "127.0.0.1"])]
    assert launch.ENTRYPOINT.is_file() and (launch.ENTRYPOINT.parent / "app_pages" / "0_Home.py").is_file()


def test_the_apps_settings_are_where_streamlit_reads_them_beside_the_entrypoint():
    settings = file_util.get_main_script_streamlit_file_path(str(launch.ENTRYPOINT), "config.toml")
    assert "toolbarMode" in open(settings, encoding="utf-8").read()


def test_a_bad_port_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(launch.os, "execv", lambda *_: (_ for _ in ()).throw(AssertionError("must not start")))
    status, out, err = run_cli(capsys, "app", "--port", "70000")
    assert status == 2 and err == "error: The port must be a whole number from 1 to 65535, not 70000.\n"
