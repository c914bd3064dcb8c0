"""The console's line syntax, parsed into plain data (no I/O), so scripts can be tested."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

LineKind = Literal["say", "private", "join", "request", "leave", "admin", "press", "wait",
                   "attach", "help", "quit", "blank", "error"]

_NAME = r"[A-Za-z][A-Za-z0-9_.-]{0,31}"
_SAY = re.compile(rf"^(?P<name>{_NAME})\s*(?P<dm>->\s*bot)?\s*:\s?(?P<text>.*)$")
_DOT = re.compile(r"^\.(?P<cmd>[a-z]+)\s*(?P<rest>.*)$")


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One parsed line."""

    kind: LineKind
    name: str = ""
    text: str = ""
    arg: str = ""


HELP = """Console syntax:
  alice: hello everyone        alice writes in the group
  alice -> bot: /start         alice writes to the bot in her private chat
  hello again                  the last speaker writes again, in the same chat
  .join bob / .leave bob       bob joins or leaves the group
  .request bob                 bob asks to join (a group that holds new members until they agree)
  .admin dana                  dana becomes an admin of the group (a platform admin)
  .press bob b3                bob presses button b3 (buttons are shown as [b3 Label])
  .attach dana file.csv /resource import   dana sends a file with a command
  .wait 2                      wait two seconds (lets scheduled work happen in scripts)
  .help                        this text
  .quit                        leave (end of input does the same)
The first person to speak is the group's creator and its admin. Lines starting with # are comments."""


def parse_line(line: str) -> ScriptLine:
    """Parse one line of console input."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ScriptLine("blank")
    dot = _DOT.match(stripped)
    if dot:
        cmd, rest = dot.group("cmd"), dot.group("rest").strip()
        parts = rest.split()
        if cmd in ("join", "request", "leave", "admin") and len(parts) == 1 and re.fullmatch(_NAME, parts[0]):
            return ScriptLine(cmd, name=parts[0].lower())  # type: ignore[arg-type]
        if cmd == "press" and len(parts) == 2 and re.fullmatch(r"b\d{1,6}", parts[1]):
            return ScriptLine("press", name=parts[0].lower(), arg=parts[1])
        if cmd == "press" and len(parts) == 1 and re.fullmatch(r"b\d{1,6}", parts[0]):
            return ScriptLine("press", arg=parts[0])
        if cmd == "wait" and len(parts) == 1 and re.fullmatch(r"\d{1,3}(\.\d+)?", parts[0]):
            return ScriptLine("wait", arg=parts[0])
        if cmd == "attach" and len(parts) >= 3:
            return ScriptLine("attach", name=parts[0].lower(), arg=parts[1],
                              text=" ".join(parts[2:]))
        if cmd in ("help", "quit", "exit") and not parts:
            return ScriptLine("quit" if cmd == "exit" else cmd)  # type: ignore[arg-type]
        return ScriptLine("error", text=stripped)
    say = _SAY.match(stripped)
    if say:
        kind: LineKind = "private" if say.group("dm") else "say"
        return ScriptLine(kind, name=say.group("name").lower(), text=say.group("text"))
    return ScriptLine("say", text=stripped)
