"""The serving environment: Triton's server binary and Python backend, in a virtual environment of
their own.

``nvidia-pytriton`` ships a Triton server (2.51) with its Python backend, and pins numpy below 2,
which irgraph's own environment need not follow; so the server gets its own environment, created
from the package registry on first use (``pip install nvidia-pytriton onnxruntime``) and reused.
Next to it lies the backend directory Triton is started with: the Python backend (library, stub for
this Python version, utilities, copied: Triton refuses backend files that resolve outside the
directory) and ``onnxruntime/model.py``, the Python-based stand-in for the onnxruntime backend
(`irgraph.serving.onnxruntime_backend`).

Location: ``$IRGRAPH_SERVE_HOME`` or ``~/.cache/irgraph/serve``, one directory per pytriton
version and Python version.
"""
from __future__ import annotations

import ctypes.util
import fcntl
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass

PYTRITON = "nvidia-pytriton==0.7.0"
READY_MARK = "irgraph-ready"


class ServeEnvironmentError(RuntimeError):
    """The serving environment could not be created or is incomplete."""


@dataclass
class ServerFiles:
    """Paths of one serving environment."""
    root: str

    @property
    def venv(self) -> str:
        return os.path.join(self.root, "venv")

    @property
    def python(self) -> str:
        return os.path.join(self.venv, "bin", "python")

    @property
    def site_packages(self) -> str:
        out = subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    @property
    def tritonserver(self) -> str:
        return os.path.join(self._pytriton, "tritonserver", "bin", "tritonserver")

    @property
    def libraries(self) -> str:
        return os.path.join(os.path.dirname(os.path.realpath(self._pytriton)), "nvidia_pytriton.libs")

    @property
    def backends(self) -> str:
        return os.path.join(self.root, "backends")

    @property
    def _pytriton(self) -> str:
        return os.path.join(self.root, "pytriton")  # a link to the installed package, made at set-up

    def env(self) -> dict:
        """The server process's environment: Triton's bundled libraries, and the serving venv first
        on PATH (the Python stub runs its ``python``'s site-packages: numpy, onnxruntime)."""
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [self.libraries, env.get("LD_LIBRARY_PATH")]))
        env["PATH"] = os.pathsep.join([os.path.join(self.venv, "bin"), env.get("PATH", "")])
        env.pop("PYTHONPATH", None)  # irgraph's environment must not leak into the stub
        env.pop("PYTHONHOME", None)
        return env


def serve_home() -> str:
    base = os.environ.get("IRGRAPH_SERVE_HOME")
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(cache, "irgraph", "serve")
    tag = PYTRITON.split("==")[1]
    return os.path.join(base, f"triton-{tag}-py{sys.version_info.major}{sys.version_info.minor}")


def server_files(create: bool = True, log=print) -> ServerFiles:
    """The serving environment, created on first use (minutes: pip downloads about 150 MB)."""
    files = ServerFiles(serve_home())
    mark = os.path.join(files.root, READY_MARK)
    if os.path.exists(mark):
        install_stand_in(files)
        return files
    if not create:
        raise ServeEnvironmentError(f"no serving environment at {files.root}; `irgraph serve` creates it")
    os.makedirs(files.root, exist_ok=True)
    with open(os.path.join(files.root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first uses at once: the second waits, then reuses
        if not os.path.exists(mark):
            _create(files, log)
            with open(mark, "w") as f:
                f.write(f"{PYTRITON}\n")
    install_stand_in(files)
    return files


def _onnxruntime_requirement() -> str:
    """The onnxruntime of irgraph's own environment, so the server computes what `predict` does."""
    try:
        return f"onnxruntime=={importlib.metadata.version('onnxruntime')}"
    except importlib.metadata.PackageNotFoundError:
        return "onnxruntime"


def _create(files: ServerFiles, log) -> None:
    libpython = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not ctypes.util.find_library(libpython) and not os.path.exists(
            os.path.join(sysconfig.get_config_var("LIBDIR") or "", f"lib{libpython}.so.1.0")):
        raise ServeEnvironmentError(f"Triton's Python backend needs the shared library lib{libpython}.so "
                                    f"(Debian/Ubuntu: apt-get install lib{libpython})")
    start = time.perf_counter()
    log(f"irgraph serve: creating the serving environment in {files.root} (once; pip installs "
        f"{PYTRITON} and onnxruntime)")
    shutil.rmtree(files.venv, ignore_errors=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", files.venv], "create the virtual environment")
    _run([files.python, "-m", "pip", "install", "-q", PYTRITON, _onnxruntime_requirement()],
         f"pip install {PYTRITON} onnxruntime (the package registry must be reachable)")
    link = files._pytriton
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.join(files.site_packages, "pytriton"), link)
    if not os.access(files.tritonserver, os.X_OK):
        raise ServeEnvironmentError(f"{PYTRITON} installed no Triton server binary at {files.tritonserver}")
    _install_python_backend(files)
    log(f"irgraph serve: serving environment ready in {time.perf_counter() - start:.0f} s")


def _run(argv, what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise ServeEnvironmentError(f"could not {what}:\n{tail}")


def _install_python_backend(files: ServerFiles) -> None:
    source = os.path.join(files._pytriton, "tritonserver")
    stub = os.path.join(source, "python_backend_stubs", f"{sys.version_info.major}.{sys.version_info.minor}",
                        "triton_python_backend_stub")
    if not os.path.exists(stub):
        raise ServeEnvironmentError(f"{PYTRITON} has no Python backend stub for Python "
                                    f"{sys.version_info.major}.{sys.version_info.minor}")
    target = os.path.join(files.backends, "python")
    os.makedirs(target, exist_ok=True)
    for path in (os.path.join(source, "backends", "python", "libtriton_python.so"),
                 os.path.join(source, "backends", "python", "triton_python_backend_utils.py"), stub):
        shutil.copy2(path, target)


def install_stand_in(files: ServerFiles) -> None:
    """``backends/onnxruntime/model.py``: this irgraph's stand-in, refreshed when it changed."""
    from . import onnxruntime_backend_source
    target_dir = os.path.join(files.backends, "onnxruntime")
    if os.path.exists(os.path.join(target_dir, "libtriton_onnxruntime.so")):
        return  # a native onnxruntime backend was put there: Triton uses it
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, "model.py")
    text = onnxruntime_backend_source()
    try:
        with open(target, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, target)
