"""PhysioNet download against a local HTTP server that serves the real PTB files in PhysioNet's URL layout
(`/ptbdb/1.0.0/...`), with a SHA256SUMS.txt, injected server errors and a tampered file."""

from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from pipelines.ecg.physionet import PhysioNetConfig, download_database
from pipelines.ecg.records import ingest_records
from pipelines.errors import IngestError
from tests.conftest import ludb_copy, shared

RECORDS = ["patient001/s0010_re", "patient104/s0306lre", "patient105/s0303lre"]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges (as PhysioNet serves them), and injected faults for the next n requests of a
    path: `fail_next` answers 500, `hang_next` stays silent for `hang_s`, `short_next` announces the whole file but
    sends half of it and drops the connection. `requests` logs each GET with its range."""

    fail_next: dict[str, int] = {}
    hang_next: dict[str, int] = {}
    short_next: dict[str, int] = {}
    hang_s = 3.0
    requests: list[str] = []

    def _due(self, faults: dict[str, int]) -> bool:
        if faults.get(self.path, 0) > 0:
            faults[self.path] -= 1
            return True
        return False

    def do_GET(self):
        byte_range = self.headers.get("Range", "")
        self.requests.append(f"{self.path} {byte_range}".strip())
        if self._due(self.fail_next):
            self.send_error(500, "injected")
            return
        if self._due(self.hang_next):
            time.sleep(self.hang_s)
            return
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", byte_range)
        path = Path(self.translate_path(self.path))
        if self._due(self.short_next) and path.is_file():
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        if not match or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start, end = int(match[1]), int(match[2]) if match[2] else len(data) - 1
        body = data[start : end + 1]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.requests.append("HEAD " + self.path)
        super().do_HEAD()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A PhysioNet-like server rooted at tmp/www; yields (base URL, the database folder it serves)."""
    db = tmp_path / "www" / "ptbdb" / "1.0.0"
    for record in RECORDS:
        patient, name = record.split("/")
        (db / patient).mkdir(parents=True, exist_ok=True)
        for path in shared("ptbdb", patient).glob(f"{name}.*"):
            shutil.copy(path, db / patient / path.name)
    (db / "RECORDS").write_text("\n".join([*RECORDS, "patient002/s0015lre"]) + "\n")  # the last is not served
    shutil.copy(shared("ptbdb", "CONTROLS"), db / "CONTROLS")
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(db)}" for p in sorted(db.rglob("*.*"))]
    (db / "SHA256SUMS.txt").write_text("\n".join(sums) + "\n")
    Handler.fail_next, Handler.hang_next, Handler.short_next, Handler.requests = {}, {}, {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(tmp_path / "www")))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", db
    httpd.shutdown()


def test_downloads_listed_records_verified_and_rejects_the_missing_one(server, tmp_path):
    url, _ = server
    done, rejects = download_database(tmp_path / "dl", PhysioNetConfig(index_url=url, backoff_s=0.01))
    assert done == RECORDS
    assert [r.item for r in rejects] == ["patient002/s0015lre"] and "not on the server" in rejects[0].reason
    for record in RECORDS:  # header and both signal files, byte for byte
        for suffix in (".hea", ".dat", ".xyz"):
            assert (tmp_path / "dl" / f"{record}{suffix}").read_bytes() == shared("ptbdb", record + suffix).read_bytes()
    records, _ = ingest_records(tmp_path / "dl")
    assert set(records.record) == set(RECORDS)
    assert records.set_index("record").loc["patient104/s0306lre"].healthy  # CONTROLS came along


def test_rerun_skips_complete_files_and_resumes_a_partial_one(server, tmp_path):
    url, _ = server
    cfg = PhysioNetConfig(index_url=url, records=tuple(RECORDS), backoff_s=0.01)
    download_database(tmp_path / "dl", cfg)
    dat = tmp_path / "dl" / "patient001" / "s0010_re.dat"
    part = tmp_path / "dl" / ".partial" / "patient001" / "s0010_re.dat.part"  # an interrupted download
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(dat.read_bytes()[:1000])
    dat.unlink()
    Handler.requests.clear()
    done, rejects = download_database(tmp_path / "dl", cfg)
    assert done == RECORDS and rejects == []
    assert dat.read_bytes() == shared("ptbdb", "patient001", "s0010_re.dat").read_bytes() and not part.exists()
    # complete files verify against SHA256SUMS.txt without a request; the partial one is completed by one ranged GET
    fetched = [r for r in Handler.requests if ".dat" in r or ".xyz" in r or ".hea" in r]
    assert fetched == ["/ptbdb/1.0.0/patient001/s0010_re.dat bytes=1000-"], Handler.requests


def test_without_checksums_a_file_in_place_is_checked_by_its_size(server, tmp_path):
    url, db = server
    (db / "SHA256SUMS.txt").unlink()
    cfg = PhysioNetConfig(index_url=url, records=(RECORDS[0],), backoff_s=0.01)
    download_database(tmp_path / "dl", cfg)
    dat = tmp_path / "dl" / "patient001" / "s0010_re.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # not ours: a file of the wrong size in place is fetched again
    Handler.requests.clear()
    assert download_database(tmp_path / "dl", cfg) == ([RECORDS[0]], [])
    assert dat.read_bytes() == shared("ptbdb", "patient001", "s0010_re.dat").read_bytes()
    assert "/ptbdb/1.0.0/patient001/s0010_re.dat" in Handler.requests
    assert "HEAD /ptbdb/1.0.0/patient001/s0010_re.xyz" in Handler.requests  # the complete one: one HEAD


def test_server_errors_are_retried(server, tmp_path):
    url, _ = server
    Handler.fail_next["/ptbdb/1.0.0/patient105/s0303lre.hea"] = 2
    done, rejects = download_database(
        tmp_path / "dl", PhysioNetConfig(index_url=url, records=("patient105/s0303lre",), backoff_s=0.01)
    )
    assert done == ["patient105/s0303lre"] and rejects == []


def test_a_file_that_does_not_match_its_checksum_is_quarantined(server, tmp_path):
    url, db = server
    xyz = db / "patient104" / "s0306lre.xyz"
    xyz.write_bytes(b"\0" * xyz.stat().st_size)  # same size, other bytes: only the checksum can tell
    done, rejects = download_database(tmp_path / "dl", PhysioNetConfig(index_url=url, records=tuple(RECORDS)))
    assert "patient104/s0306lre" not in done
    assert rejects[0].reason == (
        "patient104/s0306lre.xyz: SHA-256 does not match SHA256SUMS.txt after a fresh download"
    )


def test_record_names_that_escape_the_folder_are_rejected(server, tmp_path):
    url, _ = server
    done, rejects = download_database(
        tmp_path / "dl", PhysioNetConfig(index_url=url, records=("../../etc/passwd", "/abs/rec"))
    )
    assert done == [] and all("would leave the download folder" in r.reason for r in rejects)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl", "www"]  # nothing written beside the download


def test_an_unanswered_checksum_file_stops_the_download_instead_of_skipping_verification(server, tmp_path):
    """Review finding: a 5xx on SHA256SUMS.txt used to read as "no checksums" and let any file through."""
    url, _ = server
    Handler.fail_next["/ptbdb/1.0.0/SHA256SUMS.txt"] = 3
    with pytest.raises(IngestError, match="SHA256SUMS.txt: download failed after 3 attempts"):
        download_database(tmp_path / "dl", PhysioNetConfig(index_url=url, records=tuple(RECORDS), backoff_s=0.01))


def test_a_file_missing_from_the_checksum_list_is_rejected(server, tmp_path):
    url, db = server
    sums = db / "SHA256SUMS.txt"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if "s0303lre.xyz" not in line))
    done, rejects = download_database(tmp_path / "dl", PhysioNetConfig(index_url=url, records=tuple(RECORDS)))
    assert "patient105/s0303lre" not in done
    assert rejects[0].reason == "patient105/s0303lre.xyz: not listed in the server's SHA256SUMS.txt; cannot verify it"


def test_physionet_source_feeds_the_ingest_stage(server, tmp_path):
    from pipelines import stages
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, write_params

    url, _ = server
    physionet = {"index_url": url, "records": [*RECORDS, "patient002/s0015lre"]}
    params = write_params(tmp_path, {**TINY, "sources": {"ecg": "physionet"}, "physionet": physionet})
    ws = Workspace(tmp_path, params)
    result = stages.ingest_ecg(ws)
    assert result.counts["records"] == 3
    assert [r.item for r in result.rejects] == ["patient002/s0015lre"]
    assert (ws.physionet_dir("ptbdb") / "patient001" / "s0010_re.xyz").is_file()
    assert stages.validate_ecg(ws).counts["records_valid"] == 3


def test_ludb_downloads_with_its_annotation_files_and_feeds_the_ludb_stages(tmp_path, caplog):
    """LUDB's layout (records under data/, one annotation file per lead listed in ANNOTATORS) served as PhysioNet
    serves it: each record comes with its marks; a mark file the server lacks is logged and the record kept."""
    from pipelines import stages
    from pipelines.dataset import TrainingSet
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, write_params

    db = ludb_copy(tmp_path / "www" / "ludb" / "1.0.1", ("data/1", "data/2"))
    (db / "data" / "2.v6").unlink()
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(db)}" for p in sorted(db.rglob("*"))
            if p.is_file()]  # fmt: skip
    (db / "SHA256SUMS.txt").write_text("\n".join(sums) + "\n")
    Handler.fail_next, Handler.hang_next, Handler.short_next, Handler.requests = {}, {}, {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(tmp_path / "www")))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        params = {**TINY, "sources": {"ludb": "physionet"}, "physionet": {"index_url": url}}
        ws = Workspace(tmp_path, write_params(tmp_path, params))
        assert stages.ludb_ingest(ws).counts["records"] == 2
        local = ws.physionet_dir("ludb") / "data"
        assert (local / "1.ii").is_file() and (local / "2.v5").is_file() and not (local / "2.v6").exists()
        assert "data/2: no 'v6' annotations on the server; the record is kept without them" in caplog.text
        assert "/ludb/1.0.1/data/1.v6" in Handler.requests
        stages.ludb_validate(ws)
        stages.ludb_beats(ws)
        data = TrainingSet.load(ws.training_set("ludb"))
        assert set(data.labels.record) == {"data/1", "data/2"} and data.factor_kind == "expert"
    finally:
        httpd.shutdown()
