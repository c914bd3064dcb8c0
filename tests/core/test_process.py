"""`kindred` as a new user runs it: a scripted conversation piped into the console."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """\
# a group is created by dana, who is its admin
dana: hello everyone
dana: /setup
.join sam
sam: /setup
sam: /help
dana: /help
dana: /group language es
dana: /help
"""


def run_kindred(script: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    environ.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "LOG_LEVEL": "WARNING",
                    "KINDRED_ENV_FILE": str(tmp_path / "none.env"), **env})
    return subprocess.run([sys.executable, "-m", "bot", *args], input=script, text=True,
                          capture_output=True, cwd=tmp_path, env=environ, timeout=120)


def test_piped_console_conversation(tmp_path: Path) -> None:
    result = run_kindred(SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "This group is set up" in out
    assert "Sorry, only a group facilitator can use /setup" in out
    member_help, admin_help = out.split("Here is what you can use:")[1:3]
    assert "/setup" not in member_help and "/setup" in admin_help
    assert "Esto es lo que puedes usar" in out


def test_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = run_kindred("", tmp_path, PORT="not-a-port")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PORT" in result.stderr


def test_db_upgrade_command(tmp_path: Path) -> None:
    result = run_kindred("", tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "database is at revision" in result.stdout
