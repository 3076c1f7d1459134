"""Download a WFDB database (PTB by default) from PhysioNet with wfdb, resumable and verified.

PhysioNet's layout: `<index_url>/<database>/<version>/RECORDS`, optional `CONTROLS` and `SHA256SUMS.txt`, and
`<record>.hea` plus the signal files its header names (PTB: `.dat` and `.xyz`). wfdb's own `dl_database` cannot
be pointed at another server (it looks the version up on physionet.org/content), so this module drives wfdb's
parts instead: `set_db_index_url` (any mirror, or the local server the tests start), `dl_pn_file` (skips a file
of the remote size, appends to a partial one, so an interrupted download resumes) and `rdheader` on the
downloaded header to find the signal files.

A file is verified against SHA256SUMS.txt when the server has one; a mismatch is downloaded again once, then
quarantined. A record that cannot be fetched (missing on the server, network error after retries, a name that
would escape the download folder) becomes a reject and the others go on.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipelines.errors import ConfigError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

INDEX_FILES = ("RECORDS", "CONTROLS", "SHA256SUMS.txt")


class NotOnServer(IngestError):
    """The server answered that the file does not exist (as opposed to failing to answer)."""


@dataclass(frozen=True)
class PhysioNetConfig:
    database: str = "ptbdb"
    version: str = "1.0.0"
    index_url: str = "https://physionet.org/files/"  # or a mirror
    records: tuple[str, ...] = ()  # empty: every record in the database's RECORDS file
    retries: int = 3  # attempts per file on network errors, with exponential back-off
    backoff_s: float = 1.0

    def __post_init__(self):
        if self.retries < 1 or self.backoff_s < 0:
            raise ConfigError(
                f"physionet: retries must be >= 1 and backoff_s >= 0, got {self.retries}, {self.backoff_s}"
            )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def safe_record_name(name: str) -> str:
    """`name` if it is a relative path inside the database (no '..', not absolute); else IngestError."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise IngestError(f"{name!r}: record name would leave the download folder")
    return name


class Downloader:
    """Fetches files of one PhysioNet database into `dest` with wfdb, with retries and checksums."""

    def __init__(self, dest: str | Path, cfg: PhysioNetConfig):
        from wfdb.io import download

        self.dest, self.cfg, self._download = Path(dest), cfg, download
        self.db_dir = posixpath.join(cfg.database, cfg.version)
        self.checksums: dict[str, str] = {}

    def fetch(self, relpath: str, overwrite: bool = False) -> Path:
        """Download `relpath` (resuming a partial file) and return its local path; IngestError after retries."""
        subdir, base = posixpath.split(relpath)
        local = self.dest / relpath
        local.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.cfg.retries + 1):
            try:
                self._download.dl_pn_file((base, subdir, self.db_dir, str(self.dest), True, overwrite))
                return local
            except FileNotFoundError as e:
                raise NotOnServer(f"{relpath}: not on the server ({e})") from e
            except Exception as e:  # requests/NetFile errors: connection, timeout, 5xx
                if attempt == self.cfg.retries:
                    raise IngestError(f"{relpath}: download failed after {attempt} attempts ({e})") from e
                wait = self.cfg.backoff_s * 2 ** (attempt - 1)
                log.warning("%s: %s; retrying in %.1f s", relpath, e, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def fetch_verified(self, relpath: str) -> Path:
        """fetch(), then check the SHA-256 when known; one full re-download on a mismatch."""
        local = self.fetch(relpath)
        if self.checksums and relpath not in self.checksums:
            raise IngestError(f"{relpath}: not listed in the server's SHA256SUMS.txt; cannot verify it")
        expected = self.checksums.get(relpath)
        if expected is None or sha256(local) == expected:
            return local
        log.warning("%s: checksum mismatch; downloading it again", relpath)
        local = self.fetch(relpath, overwrite=True)
        if sha256(local) != expected:
            raise IngestError(f"{relpath}: SHA-256 does not match SHA256SUMS.txt after a fresh download")
        return local

    def index(self) -> list[str]:
        """Fetch the index files (fresh copies) and return the record names of RECORDS."""
        for name in INDEX_FILES:
            try:
                self.fetch(name, overwrite=True)
            except NotOnServer:  # only an answer "no such file" makes an index file absent; errors stop the run
                if name == "RECORDS":
                    raise
                (self.dest / name).unlink(missing_ok=True)  # optional; never keep a stale copy
        sums = self.dest / "SHA256SUMS.txt"
        if sums.is_file():
            for line in sums.read_text().splitlines():
                digest, _, name = line.strip().partition(" ")
                if name:
                    self.checksums[name.strip().lstrip("*")] = digest
        return [line.strip() for line in (self.dest / "RECORDS").read_text().splitlines() if line.strip()]

    def record(self, record: str) -> None:
        """Header first, then every signal file it names."""
        import wfdb

        safe_record_name(record)
        header_path = self.fetch_verified(f"{record}.hea")
        try:
            header = wfdb.rdheader(str(header_path.with_suffix("")))
        except Exception as e:  # wfdb raises bare ValueErrors on malformed headers
            raise IngestError(f"{record}: downloaded header is unreadable ({e})") from e
        if not hasattr(header, "file_name"):
            raise IngestError(f"{record}: multi-segment records are not supported")
        subdir = posixpath.dirname(record)
        for name in sorted(set(header.file_name or [])):
            self.fetch_verified(posixpath.join(subdir, safe_record_name(name)))


def download_database(dest: str | Path, cfg: PhysioNetConfig) -> tuple[list[str], list[Reject]]:
    """Download `cfg.records` (or all of RECORDS) of a PhysioNet database into `dest`; returns the records that
    are complete locally and the rejected ones. Re-running skips files already present and verified."""
    from wfdb.io import download

    previous_url = download.config.db_index_url
    download.set_db_index_url(cfg.index_url)
    try:
        loader = Downloader(dest, cfg)
        listed = loader.index()
        wanted = list(cfg.records) or listed
        done, rejects = [], []
        t0 = time.perf_counter()
        for i, record in enumerate(wanted, 1):
            try:
                loader.record(record)
                done.append(record)
            except IngestError as e:
                rejects.append(Reject(record, str(e)))
            if i % 25 == 0 or i == len(wanted):
                rate = i / max(time.perf_counter() - t0, 1e-9)
                log.info("downloaded %d/%d records (%.1f records/s, ETA %.0f s), %d rejected", i, len(wanted), rate,
                         (len(wanted) - i) / rate, len(rejects))  # fmt: skip
    finally:
        download.set_db_index_url(previous_url)
    return done, rejects
