"""Download faults against a local PhysioNet-like server (tests/ecg/test_physionet.py): a process killed
mid-download, a server that stops answering, a connection dropped mid-body, a file whose bytes do not match
SHA256SUMS.txt. Afterwards no partial file sits where a record belongs, what was downloaded is kept, and a
re-run completes with files byte-identical to PhysioNet's."""

from __future__ import annotations

import pytest

from pipelines.ecg.physionet import PhysioNetConfig, download_database
from pipelines.workspace import Workspace
from tests.conftest import TINY, shared, write_params
from tests.ecg.test_physionet import RECORDS, Handler
from tests.faults.harness import DataCorrupt, assert_intact, assert_kept, run_cli, run_killed, snapshot

pytestmark = pytest.mark.fault("ecg")

DB = "/ptbdb/1.0.0/"


def assert_complete(dest, records=RECORDS):
    """Every file of `records` in place, byte for byte PhysioNet's; nothing left in .partial."""
    for record in records:
        for suffix in (".hea", ".dat", ".xyz"):
            if (dest / f"{record}{suffix}").read_bytes() != shared("ptbdb", record + suffix).read_bytes():
                raise DataCorrupt(f"{record}{suffix} differs from the server's file")
    leftovers = [p for p in (dest / ".partial").rglob("*") if p.is_file()] if (dest / ".partial").exists() else []
    if leftovers:
        raise DataCorrupt(f"partial transfers left: {leftovers}")
    assert_intact(dest)


def test_a_download_killed_mid_file_leaves_no_partial_record_and_resumes(server, tmp_path):
    url, _ = server
    physionet = {"index_url": url, "records": RECORDS, "backoff_s": 0.01}
    params = write_params(tmp_path, {**TINY, "sources": {"ecg": "physionet"}, "physionet": physionet})
    ws = Workspace(tmp_path, params)
    dest = ws.physionet_dir("ptbdb")
    # chunks: 3 index files and the first header are one chunk each; chunk 12 is inside the first .dat (2.7 MB)
    killed = run_killed("chunk", 12, ["ecg-ingest"], tmp_path)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (dest / "patient001" / "s0010_re.dat").exists()  # never a partial file under the record's name
    part = dest / ".partial" / "patient001" / "s0010_re.dat.part"
    kept = part.stat().st_size
    assert 0 < kept < shared("ptbdb", "patient001", "s0010_re.dat").stat().st_size
    Handler.requests.clear()
    rerun = run_cli(["ecg-ingest"], tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    gets = [r for r in Handler.requests if r.startswith(f"{DB}patient001/s0010_re.dat")]
    assert gets == [f"{DB}patient001/s0010_re.dat bytes={kept}-"], Handler.requests  # from where the killed one stopped
    assert_complete(dest)


def test_a_server_that_stops_answering_times_out_and_the_record_is_rejected(server, tmp_path):
    url, _ = server
    Handler.hang_s = 2.0
    Handler.hang_next[f"{DB}patient104/s0306lre.xyz"] = 2
    cfg = PhysioNetConfig(index_url=url, records=tuple(RECORDS), backoff_s=0.01, retries=2, timeout_s=0.5)
    done, rejects = download_database(tmp_path / "dl", cfg)
    assert done == [RECORDS[0], RECORDS[2]]
    assert [r.item for r in rejects] == ["patient104/s0306lre"]
    assert rejects[0].reason.startswith("patient104/s0306lre.xyz: download failed after 2 attempts (")
    assert "Timeout" in rejects[0].reason
    assert not (tmp_path / "dl" / "patient104" / "s0306lre.xyz").exists()
    before = snapshot(tmp_path / "dl")
    assert download_database(tmp_path / "dl", cfg) == (RECORDS, [])  # the server answers again
    assert_kept(before, snapshot(tmp_path / "dl"), allowed_to_change=("RECORDS", "CONTROLS", "SHA256SUMS.txt"))
    assert_complete(tmp_path / "dl")


def test_a_connection_dropped_mid_body_is_resumed_with_a_range_request(server, tmp_path):
    url, _ = server
    Handler.short_next[f"{DB}patient105/s0303lre.dat"] = 1
    cfg = PhysioNetConfig(index_url=url, records=(RECORDS[2],), backoff_s=0.01)
    assert download_database(tmp_path / "dl", cfg) == ([RECORDS[2]], [])
    gets = [r for r in Handler.requests if r.startswith(f"{DB}patient105/s0303lre.dat")]
    size = shared("ptbdb", "patient105", "s0303lre.dat").stat().st_size
    assert gets[0] == f"{DB}patient105/s0303lre.dat" and len(gets) == 2
    offset = int(gets[1].removeprefix(f"{DB}patient105/s0303lre.dat bytes=").rstrip("-"))
    assert 0 < offset <= size // 2  # what reached the disk (whole chunks) is kept and the rest asked for
    assert_complete(tmp_path / "dl", [RECORDS[2]])


def test_a_file_with_wrong_bytes_is_downloaded_again_once_then_quarantined(server, tmp_path):
    url, db = server
    cfg = PhysioNetConfig(index_url=url, records=tuple(RECORDS), backoff_s=0.01)
    download_database(tmp_path / "dl", cfg)
    before = snapshot(tmp_path / "dl")
    xyz = db / "patient104" / "s0306lre.xyz"
    xyz.write_bytes(b"\0" * xyz.stat().st_size)  # the server now serves other bytes than it lists
    (tmp_path / "dl" / "patient104" / "s0306lre.xyz").unlink()
    done, rejects = download_database(tmp_path / "dl", cfg)
    assert "patient104/s0306lre" not in done
    assert rejects[0].reason == "patient104/s0306lre.xyz: SHA-256 does not match SHA256SUMS.txt after a fresh download"
    assert not (tmp_path / "dl" / "patient104" / "s0306lre.xyz").exists()  # the bad bytes never land in place
    assert_kept(before, snapshot(tmp_path / "dl"), allowed_to_change=("patient104/s0306lre.xyz",))
    xyz.write_bytes(shared("ptbdb", "patient104", "s0306lre.xyz").read_bytes())
    assert download_database(tmp_path / "dl", cfg) == (RECORDS, [])
    assert_complete(tmp_path / "dl")
