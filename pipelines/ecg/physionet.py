"""Download a WFDB database (PTB by default) from PhysioNet, resumable and verified.

PhysioNet's layout: `<index_url>/<database>/<version>/RECORDS`, optional `CONTROLS`, `ANNOTATORS` and
`SHA256SUMS.txt`, and `<record>.hea` plus the signal files its header names (PTB: `.dat` and `.xyz`); wfdb's
`rdheader` reads the downloaded header to find them. Where `ANNOTATORS` lists annotation files (LUDB: one per lead,
`i` ... `v6`; MIT-BIH: `atr`), each record's `<record>.<annotator>` is fetched too; one the server does not have
is logged and left out (the record keeps the others). Files are fetched with requests, not wfdb's own downloader:
wfdb's requests have no timeout (a server that stops answering would hang the run) and it writes straight into
the final file.

Each file streams into `<dest>/.partial/<path>.part` with a connect/read timeout; an interrupted transfer (a
killed process, a dropped connection, a body shorter than its Content-Length) resumes from the partial file with
an HTTP Range request. Only a complete file (size as announced by the server, SHA-256 as listed in
SHA256SUMS.txt when the server has one) is renamed into place, so a reader never sees a partial record. A file
already in place that verifies is not fetched again; a checksum mismatch is downloaded again once, then
quarantined. A record that cannot be fetched (missing on the server, network errors after retries, a name that
would escape the download folder) becomes a reject and the others go on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.ecg.records import safe_record_name
from pipelines.errors import ConfigError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

INDEX_FILES = ("RECORDS", "CONTROLS", "ANNOTATORS", "SHA256SUMS.txt")
CHUNK_BYTES = 1 << 16


class NotOnServer(IngestError):
    """The server answered that the file does not exist (as opposed to failing to answer)."""


class _Transient(Exception):
    """A failure worth retrying: connection error, timeout, 5xx or 429, a body shorter than announced."""


@dataclass(frozen=True)
class PhysioNetConfig:
    database: str = "ptbdb"
    version: str = "1.0.0"
    index_url: str = "https://physionet.org/files/"  # or a mirror
    records: tuple[str, ...] = ()  # empty: every record in the database's RECORDS file
    retries: int = 3  # attempts per file on network errors, with exponential back-off
    backoff_s: float = 1.0
    timeout_s: float = 30.0  # connect and read timeout: a server silent this long is a failed attempt

    def __post_init__(self):
        if self.retries < 1 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ConfigError(
                f"physionet: retries must be >= 1, backoff_s >= 0 and timeout_s > 0, got {self.retries}, "
                f"{self.backoff_s}, {self.timeout_s}"
            )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Downloader:
    """Fetches files of one PhysioNet database into `dest`, with timeouts, retries, resume and checksums."""

    def __init__(self, dest: str | Path, cfg: PhysioNetConfig, session=None):
        import requests

        self.dest, self.cfg = Path(dest), cfg
        self.base = posixpath.join(cfg.index_url.rstrip("/"), cfg.database, cfg.version)
        self.session = session or requests.Session()
        self.checksums: dict[str, str] = {}
        self.annotators: list[str] = []  # ANNOTATORS' first column: the extensions of each record's annotations

    def _partial(self, relpath: str) -> Path:
        return self.dest / ".partial" / f"{relpath}.part"

    def _transfer(self, url: str, part: Path) -> int:
        """One attempt: append the rest of `url` to `part` (or start it afresh); returns the file's full size."""
        import requests

        offset = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self.session.get(url, headers=headers, stream=True, timeout=self.cfg.timeout_s) as resp:
                if resp.status_code == 404:
                    raise NotOnServer(f"not on the server (HTTP 404 for {url})")
                if resp.status_code == 416:  # the partial is as long as the file (or longer): start again
                    part.unlink()
                    raise _Transient(f"{url}: partial file does not fit the remote one; restarting")
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Transient(f"{url}: HTTP {resp.status_code}")
                if resp.status_code >= 400:
                    raise IngestError(f"{url}: HTTP {resp.status_code} {resp.text[:200]!r} (not retried)")
                if resp.status_code == 206:
                    total = int(resp.headers.get("Content-Range", "/-1").rsplit("/", 1)[1] or -1)
                else:  # 200: the whole file (a server without ranges), so the partial is dropped
                    offset = 0
                    total = int(resp.headers.get("Content-Length", -1))
                part.parent.mkdir(parents=True, exist_ok=True)
                with open(part, "r+b" if offset else "wb") as f:
                    f.seek(offset)
                    f.truncate()
                    for chunk in resp.iter_content(CHUNK_BYTES):
                        f.write(chunk)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            raise _Transient(f"{url}: {type(e).__name__}") from e
        size = part.stat().st_size
        if total >= 0 and size != total:
            raise _Transient(f"{url}: transfer ended at {size} of {total} bytes")
        return size

    def fetch(self, relpath: str, overwrite: bool = False) -> Path:
        """`relpath` complete and verified in place (downloaded, or resumed from a partial transfer); returns its
        local path. A file already in place is kept when it verifies (SHA-256 when SHA256SUMS.txt lists it, else
        its size against the server's) unless `overwrite`. Raises NotOnServer, or IngestError after `retries`
        failed attempts or when the checksum still differs after a fresh download."""
        safe_record_name(relpath, "download folder")
        local, part, url = self.dest / relpath, self._partial(relpath), posixpath.join(self.base, relpath)
        if local.is_file() and not overwrite and self._complete(relpath, local, url):
            return local
        expected = self.checksums.get(relpath)
        for fresh in (False, True):
            self._download(relpath, url, part)
            if self.checksums and expected is None:  # downloaded first: a missing file is "not on the server"
                part.unlink()
                raise IngestError(f"{relpath}: not listed in the server's SHA256SUMS.txt; cannot verify it")
            if expected is None or sha256(part) == expected:
                break
            part.unlink()
            if fresh:
                raise IngestError(f"{relpath}: SHA-256 does not match SHA256SUMS.txt after a fresh download")
            log.warning("%s: checksum mismatch; downloading it again", relpath)
        local.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, local)
        return local

    def _download(self, relpath: str, url: str, part: Path) -> None:
        for attempt in range(1, self.cfg.retries + 1):
            try:
                self._transfer(url, part)
                return
            except NotOnServer as e:
                raise NotOnServer(f"{relpath}: {e}") from e
            except _Transient as e:
                if attempt == self.cfg.retries:
                    raise IngestError(f"{relpath}: download failed after {attempt} attempts ({e})") from e
                wait = self.cfg.backoff_s * 2 ** (attempt - 1)
                log.warning("%s: %s; retrying in %.1f s", relpath, e, wait)
                time.sleep(wait)

    def _complete(self, relpath: str, local: Path, url: str) -> bool:
        """Whether the file in place is the server's: by checksum when listed, else by size (one HEAD)."""
        if relpath in self.checksums:
            return sha256(local) == self.checksums[relpath]
        try:
            head = self.session.head(url, timeout=self.cfg.timeout_s, allow_redirects=True)
            return head.ok and int(head.headers.get("Content-Length", -1)) == local.stat().st_size
        except Exception:  # cannot ask: download it again rather than trust it
            return False

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
        annotators = self.dest / "ANNOTATORS"
        if annotators.is_file():
            names = [line.split()[0] for line in annotators.read_text(errors="replace").splitlines() if line.strip()]
            self.annotators = [safe_record_name(name, "download folder") for name in names]
        return [line.strip() for line in (self.dest / "RECORDS").read_text().splitlines() if line.strip()]

    def record(self, record: str) -> None:
        """Header first, then every signal file it names, then its annotation files (ANNOTATORS)."""
        import wfdb

        safe_record_name(record, "download folder")
        header_path = self.fetch(f"{record}.hea")
        try:
            header = wfdb.rdheader(str(header_path.with_suffix("")))
        except Exception as e:  # wfdb raises bare ValueErrors on malformed headers
            raise IngestError(f"{record}: downloaded header is unreadable ({e})") from e
        if not hasattr(header, "file_name"):
            raise IngestError(f"{record}: multi-segment records are not supported")
        subdir = posixpath.dirname(record)
        for name in sorted(set(header.file_name or [])):
            self.fetch(posixpath.join(subdir, safe_record_name(name, "download folder")))
        for annotator in self.annotators:
            try:
                self.fetch(f"{record}.{annotator}")
            except NotOnServer as e:
                log.warning("%s: no %r annotations on the server; the record is kept without them (%s)", record,
                            annotator, e)  # fmt: skip


def download_database(dest: str | Path, cfg: PhysioNetConfig) -> tuple[list[str], list[Reject]]:
    """Download `cfg.records` (or all of RECORDS) of a PhysioNet database into `dest`; returns the records that
    are complete locally and the rejected ones. Re-running skips files already present and verified."""
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
    for folder in sorted((Path(dest) / ".partial").rglob("*"), reverse=True):  # empty folders of finished transfers
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return done, rejects
