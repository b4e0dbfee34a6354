"""Client adapters: mj, curl, python, and external commands (--adapter-cmd)."""
from .command import CommandAdapter
from .curl import CurlAdapter
from .mj import MjAdapter
from .python import PythonAdapter

BUILTIN = {"mj": MjAdapter, "curl": CurlAdapter, "python": PythonAdapter}


def installed():
    """The built-in adapters whose client is present, in the default order."""
    return [n for n, cls in BUILTIN.items() if cls().available() is None]


def make(names, commands=(), mj_batch=True):
    """Adapter instances for names; commands: 'NAME=COMMAND' strings; mj_batch:
    whether the mj adapter runs mj through `mj --batch`."""
    cmds = {}
    for spec in commands:
        name, _, command = spec.partition("=")
        if not name or not command:
            raise ValueError(f"--adapter-cmd wants NAME=COMMAND, got {spec!r}")
        cmds[name] = command
    out = []
    for n in names:
        if n in cmds:
            out.append(CommandAdapter(n, cmds[n]))
        elif n == "mj":
            out.append(MjAdapter(batch=mj_batch))
        elif n in BUILTIN:
            out.append(BUILTIN[n]())
        else:
            raise ValueError(f"unknown adapter {n!r}: expected one of "
                             f"{', '.join(list(BUILTIN) + list(cmds))}")
    return out
