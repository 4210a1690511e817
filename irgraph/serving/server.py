"""Triton's server process on a model repository: start, wait until ready, stop."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


class ServeError(RuntimeError):
    """The server did not start or stopped; the message carries the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class TritonServer:
    """``with TritonServer(repo, http_port=p, grpc_port=q) as server: ...`` runs Triton on ``repo``
    (checked first with `irgraph.deploy.check_repository`) until the block ends."""

    def __init__(self, repository: str, host: str = "127.0.0.1", http_port: int = 8000,
                 grpc_port: int = 8001, log_file: str | None = None, http_threads: int | None = None,
                 files=None):
        from irgraph.deploy import check_repository
        self.repository = os.path.abspath(os.fspath(repository))
        self.models = check_repository(self.repository)
        self.host, self.http_port, self.grpc_port = host, http_port, grpc_port
        self.log_file, self.http_threads = log_file, http_threads
        self._files, self.process, self._log = files, None, None

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def command(self, files) -> list[str]:
        argv = [files.tritonserver,
                f"--model-repository={self.repository}",
                f"--backend-directory={files.backends}",
                f"--http-address={self.host}", f"--http-port={self.http_port}",
                f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}",
                "--allow-metrics=false", "--exit-on-error=true", "--strict-readiness=true",
                "--model-control-mode=none", "--exit-timeout-secs=5",
                "--disable-auto-complete-config"]  # the configuration is the one deploy checked
        if self.http_threads:
            argv.append(f"--http-thread-count={self.http_threads}")
        return argv

    def start(self) -> "TritonServer":
        from .environment import server_files
        files = self._files or server_files()
        if self.log_file:
            self._log = open(self.log_file, "ab")
        self.process = subprocess.Popen(self.command(files), env=files.env(), stdout=self._log,
                                        stderr=subprocess.STDOUT if self._log else None,
                                        start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds until the server and every model are ready; `ServeError` if it exits or times out."""
        start = time.perf_counter()
        url = f"http://{self.http_url}/v2/health/ready"
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise ServeError(f"Triton exited with status {self.process.returncode} before it was ready"
                                 f"{self._log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ServeError(f"Triton was not ready after {timeout:.0f} s{self._log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL of its process group); returns its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # the Python stubs Triton started, should any outlive it
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._log:
            self._log.close()
            self._log = None
        return self.process.returncode

    def _log_tail(self) -> str:
        if not self.log_file:
            return " (its log went to the terminal)"
        with open(self.log_file, "rb") as f:
            f.seek(max(0, os.path.getsize(self.log_file) - 3000))
            return ":\n" + f.read().decode(errors="replace")

    def __enter__(self):
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


def is_repository(path: str) -> bool:
    """A directory holding at least one ``NAME/config.pbtxt``."""
    return os.path.isdir(path) and any(
        os.path.isfile(os.path.join(path, entry, "config.pbtxt")) for entry in os.listdir(path))


def repository_for(target: str, options, workdir: str | None = None) -> str:
    """``target`` itself when it is a model repository, else a repository written for it (in
    ``workdir`` or a new temporary directory) by `irgraph.deploy.write_repository`."""
    from irgraph.deploy import write_repository
    if is_repository(target):
        return target
    repo = workdir or tempfile.mkdtemp(prefix="irgraph-serve-")
    write_repository(target, repo, options)
    return repo


def serve_forever(server: TritonServer) -> int:
    """Run ``server`` in the foreground until Ctrl-C or SIGTERM; returns its exit status."""
    def forward(signum, _frame):
        if server.process and server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    server.start()
    try:
        seconds = server.wait_ready()
        print(f"irgraph serve: models {server.models} ready in {seconds:.1f} s; Open Inference Protocol on "
              f"http://{server.http_url} and grpc://{server.grpc_url} (Ctrl-C stops)", flush=True)
        return server.process.wait()
    except KeyboardInterrupt:
        return server.stop() or 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
