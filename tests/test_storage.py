"""Atomic writes give files and folders the modes open() and mkdir() would have (the process's umask applied), and
reading the umask neither happens at import nor changes it (issue 25)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import os, sys
from pathlib import Path
os.umask(0o027)
from pipelines import storage
assert os.umask(0o027) == 0o027 and storage._umask_by_setting.cache_info().currsize == 0  # import set nothing
root = Path(sys.argv[1])
storage.write_text(root / "a.txt", "a")
with storage.atomic_dir(root / "folder") as tmp:
    (tmp / "b.txt").write_text("b")
modes = [oct((root / name).stat().st_mode & 0o777) for name in ("a.txt", "folder")]
os.umask(0o077)  # changed after the first writes: later writes follow it
storage.write_text(root / "c.txt", "c")
print(*modes, oct((root / "c.txt").stat().st_mode & 0o777), oct(os.umask(0)))
"""


def test_written_files_and_folders_get_the_process_umask(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0o640", "0o750", "0o600", "0o77"]  # 0666 and 0777 less the umask of the time
