"""Bad input to ``modfourier sweep``: one line on stderr, exit 2 for usage errors and 1 for
faults (a database that cannot be reached or opened), never a traceback."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from modfourier.cli import main

SPEC = """name = "err"
score = false
[base]
model = "mlp"
p = 5
width = 8
max_epochs = 2
eval_every = 2
[vary]
alpha = [0.5]
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def setup(tmp_path, case: str) -> list[str]:
    """The arguments of one bad invocation (files it needs are made here)."""
    spec = tmp_path / "err.toml"
    spec.write_text(SPEC)
    out = ["--out", str(tmp_path / "out")]
    if case == "spec-not-toml":
        spec.write_text("this is [not TOML\n")
    if case == "spec-not-text":
        spec.write_bytes(b"\xff\xfe\x00\x81 binary")
    if case == "out-is-file":
        (tmp_path / "out").write_text("a file")
    if case == "folder-spec-json-corrupt":
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "spec.json").write_text("{not json")
    if case == "sqlite-not-a-database":
        (tmp_path / "junk.db").write_text("not a database " * 100)
    storage = {
        "unknown-scheme": "mysql://user@localhost/db",
        "http-scheme": "http://example.com/db",
        "postgres-alias": "postgres://user@localhost/db",
        "not-a-url": "just words",
        "unknown-driver": "postgresql+nodriver://user@localhost/db",
        "sqlite-in-memory": "sqlite://",
        "postgres-unreachable": f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port()}/db",
        "postgres-bare-url-unreachable": f"postgresql://postgres@127.0.0.1:{closed_port()}/db",
        "driver-missing": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/db",
        "sqlite-under-a-file": f"sqlite:///{tmp_path / 'err.toml' / 'study.db'}",
        "sqlite-not-a-database": f"sqlite:///{tmp_path / 'junk.db'}",
    }.get(case)
    extra = ["--storage", storage] if storage else []
    return {
        "spec-missing": ["sweep", str(tmp_path / "none.toml"), *out],
        "spec-is-folder": ["sweep", str(tmp_path), *out],
        "no-spec": ["sweep", *out],
        "join-without-storage": ["sweep", "--join", "err", *out],
        "join-and-spec": ["sweep", str(spec), "--join", "err", "--storage", "sqlite:///x.db"],
        "join-missing-sqlite": [
            "sweep",
            "--join",
            "err",
            "--storage",
            f"sqlite:///{tmp_path / 'none.db'}",
            *out,
        ],
        "max-trials-negative": ["sweep", str(spec), "--max-trials", "-1", *out],
    }.get(case, ["sweep", str(spec), *out, *extra])


CASES = [  # id, exit code, words in the message
    ("unknown-scheme", 2, "scheme 'mysql' is not supported"),
    ("http-scheme", 2, "scheme 'http' is not supported"),
    ("postgres-alias", 2, "scheme 'postgres' is not supported"),
    ("not-a-url", 2, "not a database URL"),
    ("unknown-driver", 2, "no driver 'postgresql+nodriver'"),
    ("sqlite-in-memory", 2, "in-memory"),
    ("out-is-file", 2, "is not a folder"),
    ("spec-not-toml", 2, "not valid TOML"),
    ("spec-not-text", 2, "not UTF-8"),
    ("spec-missing", 2, "no sweep spec"),
    ("spec-is-folder", 2, "no sweep spec"),
    ("no-spec", 2, "give a SPEC.toml"),
    ("join-without-storage", 2, "needs `--storage`"),
    ("join-and-spec", 2, "not both"),
    ("join-missing-sqlite", 2, "no SQLite database"),
    ("max-trials-negative", 2, "--max-trials"),
    ("postgres-unreachable", 1, "cannot reach the database"),
    ("postgres-bare-url-unreachable", 1, "cannot reach the database"),
    ("driver-missing", 1, "is not installed"),
    ("sqlite-under-a-file", 1, "cannot create the lock file"),
    ("sqlite-not-a-database", 1, "cannot open the database"),
    ("folder-spec-json-corrupt", 1, "spec.json"),
]


@pytest.mark.parametrize("case, code, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_without_traceback(tmp_path, capsys, case, code, words):
    if case.startswith("postgres-"):
        pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
    if case == "driver-missing" and importlib.util.find_spec("psycopg") is not None:
        pytest.skip("psycopg is installed: no missing driver to report")
    argv = setup(tmp_path, case)
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.err.startswith("modfourier sweep: error: ")
    assert captured.err.count("\n") == 1, captured.err
    assert words in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_password_is_not_shown(capsys):
    url = "postgresql+nodriver://user:hunter2@localhost/db"
    assert main(["sweep", "x.toml", "--storage", url]) == 2
    assert "hunter2" not in capsys.readouterr().err
