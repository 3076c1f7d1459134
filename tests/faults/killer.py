"""`python -m tests.faults.killer <point> <n> <args...>`: run `python -m pipelines <args...>` and SIGKILL the
process at the n-th occurrence of <point>, the way an OOM killer or a pulled plug would stop it (no cleanup, no
exception handlers, no atexit):

- write: an atomic write, once half of the temporary file is on disk and before it is renamed into place;
- chunk: a chunk of a downloaded HTTP body, before it reaches the file;
- epoch: the end of a training epoch, after its log line and before its checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _on_nth(n: int):
    calls = {"n": 0}

    def due() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    return due


def arm(point: str, n: int) -> None:
    due = _on_nth(n)
    if point == "write":
        from pipelines import storage

        fsync = storage._fsync

        def half_then_kill(path):
            if due():
                os.truncate(path, os.path.getsize(path) // 2)
                _kill()
            fsync(path)

        storage._fsync = half_then_kill
    elif point == "chunk":
        import requests

        iter_content = requests.Response.iter_content

        def chunks_then_kill(self, *args, **kwargs):
            for chunk in iter_content(self, *args, **kwargs):
                if due():
                    _kill()
                yield chunk

        requests.Response.iter_content = chunks_then_kill
    elif point == "epoch":
        from pipelines.vae import trainer

        log_epoch = trainer._log_epoch

        def log_then_kill(*args, **kwargs):
            log_epoch(*args, **kwargs)
            if due():
                _kill()

        trainer._log_epoch = log_then_kill
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    arm(sys.argv[1], int(sys.argv[2]))
    from pipelines.cli import main

    sys.exit(main(sys.argv[3:]))
