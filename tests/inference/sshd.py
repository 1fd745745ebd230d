"""A real OpenSSH server on 127.0.0.1 for the remote-run tests: Debian's ``sshd`` on a free port,
with a throwaway host key and user key made in a temporary folder, its own config (``-f``), in
the foreground (``-D -e``); ``stop()`` ends it. Installed by ``make test`` when running as root
(``apt-get install openssh-server``); tests skip with the reason where it is absent."""
from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
READY_TIMEOUT_S = 60


def missing_reason() -> str | None:
    if SSHD is None:
        return ("sshd not found: the remote-run tests need Debian's openssh-server (`make test` "
                "installs it when run as root; else `apt-get install openssh-server`)")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "ssh / ssh-keygen not found: install openssh-client"
    if not os.path.isdir("/run/sshd") and os.geteuid() != 0:
        return "sshd needs /run/sshd (its privilege-separation folder): run as root once"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "litelens-test",
                    "-f", str(path)], check=True)
    return (path.with_suffix(".pub")).read_text().strip()


class Sshd:
    """One sshd; ``options`` are the client's ``-o`` settings to reach it (key, known_hosts)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        self.user = getpass.getuser()
        self.port = free_port()
        self.host_key = folder / "host_ed25519"
        host_pub = keygen(self.host_key)
        self.user_key = folder / "id_ed25519"
        (folder / "authorized_keys").write_text(keygen(self.user_key) + "\n")
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub}\n")
        self.config = folder / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "UsePAM no",
            "StrictModes no", "PrintMotd no", "Subsystem sftp internal-sftp",
            f"AllowUsers {self.user}", ""]))
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    @property
    def address(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    @property
    def options(self) -> list[str]:
        return [f"IdentityFile={self.user_key}", "IdentitiesOnly=yes",
                f"UserKnownHostsFile={self.known_hosts}", "GlobalKnownHostsFile=/dev/null"]

    def start(self) -> "Sshd":
        # sshd refuses to start without its privilege-separation folder (made by the service
        # normally, absent in a container)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                if "Server listening" in line:
                    ready.set()
            ready.set()   # it ended: start() reports why

        threading.Thread(target=read, daemon=True, name="sshd-log").start()
        ready.wait(READY_TIMEOUT_S)
        if self.proc.poll() is not None or not any("Server listening" in ln for ln in self.log):
            self.stop()
            raise RuntimeError("sshd did not start: " + " | ".join(self.log[-5:]))
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve(tmp_path_factory):
    """The ``sshd`` fixture's body (tests/conftest.py): a running server for a module, stopped
    after it; skips with the reason where sshd cannot run."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = Sshd(tmp_path_factory.mktemp("sshd") / "server").start()
    yield server
    server.stop()
