"""A board reached over SSH: its address (``ssh://[user@]host[:port]``), the Python to run there,
the ssh options, and what a failed ``ssh`` said, as one line.

LiteLens drives the system OpenSSH client (``ssh``) rather than a Python SSH library: the user's
``~/.ssh/config`` (aliases, ProxyJump, identities), agent and ``known_hosts`` apply as in their own
terminal, host keys are checked by the tool they already trust, and ``--ssh-option K=V`` is
plain ``ssh -o K=V``. ``BatchMode=yes`` means ssh never asks for a password or passphrase and
never accepts an unknown host key on its own; the user opts in with
``--ssh-option StrictHostKeyChecking=accept-new``.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_REMOTE_PYTHON = "python3"
OPTIONS_ENV = "LITELENS_SSH_OPTIONS"
CONNECT_TIMEOUT_S = 10
# a silent connection is declared dead after ALIVE_INTERVAL_S * ALIVE_COUNT seconds
ALIVE_INTERVAL_S = 5
ALIVE_COUNT = 3
# ssh exits with 255 for its own errors; a shell that cannot find or run a command, 127 / 126
SSH_ERROR = 255
NOT_FOUND, NOT_EXECUTABLE = 127, 126
# the package each backend needs on the board (the name pip installs)
BACKEND_PACKAGES = {"litert": "ai-edge-litert", "compiled": "ai-edge-litert",
                    "tflite_runtime": "tflite-runtime", "tensorflow": "tensorflow"}


class TargetError(Exception):
    """A board that cannot run the job, as one line (``kind`` for the JSON ``error_kind``)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class SshTarget:
    """Where and how to run: ``ssh://[user@]host[:port]`` plus the board's Python, extra ssh
    options (``K=V``) and the folder the private upload folder is made in (None: the board's
    temporary folder)."""

    host: str
    user: str | None = None
    port: int | None = None
    python: str = DEFAULT_REMOTE_PYTHON
    options: list[str] = field(default_factory=list)
    remote_tmp: str | None = None

    @property
    def address(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{host}{port}"

    def ssh_argv(self, remote: list[str]) -> list[str]:
        """The ssh command that runs ``remote`` (argv, quoted for the board's shell)."""
        ssh = shutil.which("ssh")
        if ssh is None:
            raise TargetError("ssh_missing", "no ssh client on this machine: install OpenSSH "
                                             "(Debian/Ubuntu: apt-get install openssh-client)")
        # ssh keeps the first value it reads for an option: the user's come before ours
        argv = [ssh, "-T", *(a for opt in self.options for a in ("-o", opt)),
                "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
                "-o", f"ServerAliveInterval={ALIVE_INTERVAL_S}",
                "-o", f"ServerAliveCountMax={ALIVE_COUNT}", "-o", "LogLevel=ERROR"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        return argv + ["--", self.host, " ".join(shlex.quote(a) for a in remote)]


def parse_target(address: str, python: str | None = None, options: list[str] | None = None,
                 remote_tmp: str | None = None) -> SshTarget:
    """``ssh://[user@]host[:port]`` (also ``[user@]host[:port]``) with the options of
    ``LITELENS_SSH_OPTIONS`` followed by ``options``; TargetError for anything else."""
    text = address.strip()
    if "://" not in text:
        text = "ssh://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise TargetError("target", f"{address}: not a target address ({e}); use "
                                    "ssh://[user@]host[:port]") from None
    if parts.scheme != "ssh" or not parts.hostname or parts.path not in ("", "/") \
            or parts.password is not None:
        why = ("passwords are never taken: use a key or an agent" if parts.password is not None
               else "use ssh://[user@]host[:port]")
        raise TargetError("target", f"{address}: not a target address ({why})")
    opts = shlex.split(os.environ.get(OPTIONS_ENV, "")) + list(options or [])
    for opt in opts:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*=.*", opt):
            raise TargetError("target", f"ssh option {opt!r} is not KEY=VALUE (as ssh -o takes "
                                        f"it; from --ssh-option or {OPTIONS_ENV})")
    return SshTarget(host=parts.hostname, user=parts.username or None, port=port,
                     python=python or DEFAULT_REMOTE_PYTHON, options=opts,
                     remote_tmp=remote_tmp or None)


def ssh_failure(target: SshTarget, code: int, stderr: list[str]) -> TargetError:
    """What a session that ended before the board answered means, as one line."""
    said = " ".join(ln.strip() for ln in stderr if ln.strip())
    where = target.address
    last = (stderr[-1].strip() if stderr else "") or f"exit code {code}"
    if code == NOT_FOUND or (code == NOT_EXECUTABLE and "ermission" in said):
        return TargetError("remote_python",
                           f"{where}: no Python at {target.python} on the board ({last}); install "
                           "Python 3 there, then `python3 -m pip install ai-edge-litert numpy`, "
                           "or name another with --remote-python PATH")
    if code != SSH_ERROR:
        return TargetError("remote_python",
                           f"{where}: {target.python} could not run LiteLens's launcher ({last}); "
                           "it needs Python 3.6 or newer")
    checks = (
        ("unreachable", ("Connection refused",),
         "cannot connect: connection refused (is sshd running, is the port right?)"),
        ("unreachable", ("Could not resolve hostname", "Name or service not known"),
         "cannot connect: unknown host name"),
        ("unreachable", ("timed out", "No route to host", "Network is unreachable"),
         f"cannot connect: no answer within {CONNECT_TIMEOUT_S} s (host down or unreachable)"),
        ("host_key_changed", ("REMOTE HOST IDENTIFICATION HAS CHANGED",
                              "has changed and you have requested strict checking"),
         "the board's host key CHANGED since it was recorded in known_hosts: refusing to "
         "connect (a reinstalled board, or someone in between); check it, then remove the old "
         "key with `ssh-keygen -R HOSTKEY`"),
        ("host_key_unknown", ("Host key verification failed", "No ED25519 host key",
                              "No RSA host key", "No ECDSA host key", "host key is known"),
         "the board's host key is not known: check its fingerprint and add it to known_hosts "
         "(`ssh HOST` once), or pass --ssh-option StrictHostKeyChecking=accept-new to trust it "
         "on first use"),
        ("auth", ("Permission denied", "Too many authentication failures"),
         "authentication refused (" + _quote_reason(said, "Permission denied") + "): LiteLens "
         "uses keys and the ssh agent, never passwords; check the user name and that your key "
         "is in the board's authorized_keys (--ssh-option IdentityFile=PATH names a key)"),
        ("connection_lost", ("Connection closed", "Connection reset", "Broken pipe",
                             "not responding"),
         "the connection dropped before the board answered"),
    )
    for kind, needles, text in checks:
        if any(n in said for n in needles):
            key = f"[{target.host}]:{target.port}" if target.port else target.host
            text = text.replace("HOSTKEY", shlex.quote(key)).replace("HOST", _host_arg(target))
            return TargetError(kind, f"{where}: {text}")
    return TargetError("ssh", f"{where}: ssh failed: {last}")


def _quote_reason(said: str, key: str) -> str:
    m = re.search(re.escape(key) + r"[^.]*", said)
    return m.group(0).strip() if m else key


def _host_arg(target: SshTarget) -> str:
    who = f"{target.user}@{target.host}" if target.user else target.host
    return who if not target.port else f"-p {target.port} {who}"


def missing_runtime(target: SshTarget, backend: str, runtimes: dict) -> TargetError | None:
    """The board's Python lacks what ``backend`` (or the worker) imports: the pip line to run."""
    need = BACKEND_PACKAGES.get(backend, "ai-edge-litert")
    missing = [p for p in (need, "numpy") if not runtimes.get(p)]
    if not missing:
        return None
    return TargetError("runtime_missing",
                       f"{target.address}: {target.python} on the board has no "
                       f"{' or '.join(missing)} (backend {backend}); run there: "
                       f"`{target.python} -m pip install {' '.join(missing)}`")


def facts_line(facts: dict) -> str:
    """'Raspberry Pi 4 · 4 cores · governor ondemand · 3.7 GiB · 48.2 °C · ai-edge-litert 2.3.0'."""
    from core import format as fmt
    parts = [facts.get("cpu_model") or facts.get("machine") or "unknown CPU"]
    if facts.get("cores"):
        parts.append(f"{facts['cores']} cores")
    if facts.get("governor"):
        parts.append(f"governor {facts['governor']}")
    if facts.get("memory_total_bytes"):
        parts.append(fmt.size(facts["memory_total_bytes"]))
    temps = facts.get("temperatures_c") or {}
    if temps:
        parts.append(f"{max(temps.values()):.1f} °C")
    runtimes = facts.get("runtimes") or {}
    for name in ("ai-edge-litert", "tflite-runtime", "tensorflow"):
        if runtimes.get(name):
            parts.append(f"{name} {runtimes[name]}")
    parts.append(f"Python {facts.get('python', '?')}")
    return " · ".join(fmt.printable(str(p), 80) for p in parts)


@dataclass(frozen=True)
class SavedTarget:
    """A board the user named, as the Run panel keeps it (name, address, the board's Python,
    notes). No password field, ever: the address refuses one, access is by keys and agents."""

    name: str
    address: str
    python: str = DEFAULT_REMOTE_PYTHON
    notes: str = ""

    def problem(self) -> str | None:
        """Why this entry cannot be used (one line), or None."""
        if not self.name.strip():
            return f"{self.address or 'a target'}: give it a name"
        if not self.python.strip():
            return f"{self.name}: the board's Python path is empty (python3 is the default)"
        try:
            parse_target(self.address, python=self.python)
        except TargetError as e:
            return f"{self.name}: {e}"
        return None

    def target(self, options: list[str] | None = None, remote_tmp: str | None = None) \
            -> SshTarget:
        return parse_target(self.address, python=self.python, options=options,
                            remote_tmp=remote_tmp)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address, "python": self.python,
                "notes": self.notes}

    @classmethod
    def from_json(cls, d: dict) -> SavedTarget:
        return cls(name=str(d.get("name", "")), address=str(d.get("address", "")),
                   python=str(d.get("python") or DEFAULT_REMOTE_PYTHON),
                   notes=str(d.get("notes", "")))


def saved_targets(text: str | None) -> list[SavedTarget]:
    """The saved list from its stored JSON; entries that do not read are left out (a settings
    file edited by hand must not stop the panel)."""
    import json
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return []
    out = []
    for d in items if isinstance(items, list) else []:
        if isinstance(d, dict):
            t = SavedTarget.from_json(d)
            if t.problem() is None:
                out.append(t)
    return out


def saved_targets_json(targets: list[SavedTarget]) -> str:
    from core.fileio import dumps_json
    return dumps_json([t.to_json() for t in targets])
