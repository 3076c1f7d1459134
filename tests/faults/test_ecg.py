"""ECG faults: broken WFDB files and index files in a directory source, and a process killed or a disk full while
the ingest stage writes. Each gives a reject naming the record and the reason (or a clear error), the other
records go on, every record is accounted for (stored or quarantined), the stored files stay whole, and a re-run
on the repaired source gives exactly the outputs of a run that never saw the fault."""

from __future__ import annotations

import errno
import shutil

import numpy as np
import pandas as pd
import pytest

from pipelines import stages
from pipelines.dataset import TrainingSet
from pipelines.errors import StorageError
from pipelines.workspace import Workspace
from tests.conftest import TINY, shared, write_params
from tests.faults.harness import DataLost, assert_intact, assert_kept, run_cli, run_killed, snapshot

pytestmark = pytest.mark.fault("ecg")

GOOD = ["patient001/s0014lre", "patient104/s0306lre", "patient105/s0303lre"]
VICTIM = "patient002/s0015lre"  # the record each test breaks


class Ecg:
    """A workspace whose ECG source is a writable PTB-layout copy of four real records; `baseline` holds the
    md5 of every output of a clean ingest + validate, `restore()` puts the pristine source back."""

    def __init__(self, tmp_path):
        self.src, self.pristine = tmp_path / "ptb", tmp_path / "pristine"
        for patient in ("patient001", "patient002", "patient104", "patient105"):
            shutil.copytree(shared("ptbdb", patient), self.pristine / patient)
        for path in self.pristine.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (self.pristine / "RECORDS").write_text("\n".join([*GOOD, VICTIM]) + "\n")
        shutil.copytree(self.pristine, self.src)
        params = {**TINY, "sources": {"ecg": str(self.src)}}
        self.ws = Workspace(tmp_path, write_params(tmp_path, params))
        self.run()
        self.baseline = snapshot(self.ws.data)

    def path(self, record: str, suffix: str):
        return self.src / f"{record}{suffix}"

    def run(self) -> tuple[set[str], dict[str, str]]:
        """Ingest and validate; the validated records and the reasons of both quarantine files, read back."""
        stages.ingest_ecg(self.ws)
        stages.validate_ecg(self.ws)
        good = set(pd.read_parquet(self.ws.ecg_records_validated).record)
        quarantined = pd.concat([pd.read_csv(self.ws.quarantine(s)) for s in ("ecg_ingest", "ecg_validation")])
        return good, dict(zip(quarantined["item"], quarantined["reason"], strict=True))

    def check_after(self, good: set[str], reasons: dict[str, str]) -> None:
        """Nothing lost or half-written; then the repaired source re-runs to the clean outputs."""
        assert_intact(self.ws.data)
        listed = [r.strip() for r in (self.src / "RECORDS").read_text().splitlines() if r.strip()]
        unaccounted = [r for r in listed if r not in good and r not in reasons]
        if unaccounted or not set(GOOD) <= good:
            raise DataLost(f"records neither stored nor quarantined: {unaccounted}; stored {sorted(good)}")
        shutil.rmtree(self.src)
        shutil.copytree(self.pristine, self.src)
        self.run()
        assert_kept(self.baseline, snapshot(self.ws.data), allowed_to_change=(".locks",))


@pytest.fixture
def ecg(tmp_path):
    return Ecg(tmp_path)


def write_record(src, name: str, signal: np.ndarray, leads: list[str]):
    import wfdb

    (src / "patient900").mkdir(exist_ok=True)
    n = len(leads)
    wfdb.wrsamp(name, fs=1000, units=["mV"] * n, sig_name=leads, p_signal=signal, fmt=["16"] * n,
                adc_gain=[2000.0] * n, baseline=[0] * n, write_dir=str(src / "patient900"))  # fmt: skip
    with open(src / "RECORDS", "a") as f:
        f.write(f"patient900/{name}\n")


def ecg_like(n: int = 20_000, leads: int = 2) -> np.ndarray:
    """A 1 mV spike every 0.8 s plus 20 µV noise: passes every check of the suite."""
    t = np.arange(n) / 1000.0
    beat = np.exp(-0.5 * ((t % 0.8 - 0.4) / 0.01) ** 2) * (1 + 0.05 * np.sin(t))  # peaks differ a little
    noise = np.random.default_rng(0).normal(0, 0.02, (n, leads))
    return beat[:, None] + noise


def edit_header(ecg: Ecg, old: str, new: str, count: int = 1) -> None:
    hea = ecg.path(VICTIM, ".hea")
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, count))


def test_truncated_dat_is_rejected_with_byte_counts(ecg):
    dat = ecg.path(VICTIM, ".dat")
    dat.write_bytes(dat.read_bytes()[:100_000])
    good, reasons = ecg.run()
    assert reasons[VICTIM] == (
        "patient002/s0015lre: header says 115200 samples x 12 signals (2764800 bytes) but s0015lre.dat holds "
        "100000 bytes (4166 samples): truncated or wrong header"
    )
    ecg.check_after(good, reasons)


def test_header_sample_count_disagreeing_with_the_file_is_rejected(ecg):
    edit_header(ecg, "s0015lre 15 1000 115200", "s0015lre 15 1000 100000")
    good, reasons = ecg.run()
    assert "header says 100000 samples" in reasons[VICTIM]
    ecg.check_after(good, reasons)


def test_header_signal_count_disagreeing_with_its_signal_lines_is_rejected(ecg):
    edit_header(ecg, "s0015lre 15 1000", "s0015lre 17 1000")  # 17 signals announced, 15 described
    good, reasons = ecg.run()
    assert reasons[VICTIM] == "patient002/s0015lre: header announces 17 signals but describes 15"
    ecg.check_after(good, reasons)


def test_unknown_storage_format_is_rejected(ecg):
    edit_header(ecg, "s0015lre.dat 16 ", "s0015lre.dat 999 ", count=12)  # no such WFDB format
    good, reasons = ecg.run()
    assert reasons[VICTIM].startswith("patient002/s0015lre: unreadable")
    ecg.check_after(good, reasons)


def test_binary_garbage_header_is_rejected(ecg):
    ecg.path(VICTIM, ".hea").write_bytes(np.random.default_rng(1).bytes(3000))
    good, reasons = ecg.run()
    assert reasons[VICTIM].startswith("patient002/s0015lre: unreadable header (")
    ecg.check_after(good, reasons)


def test_wrong_gain_is_quarantined_by_the_amplitude_check(ecg):
    edit_header(ecg, " 16 2000 16 ", " 16 2 16 ", count=15)  # 1000x the true amplitude
    good, reasons = ecg.run()
    assert reasons[VICTIM] == "amplitude range outside 0.1-20 mV"
    ecg.check_after(good, reasons)


def test_a_gain_that_makes_samples_infinite_is_quarantined(ecg):
    edit_header(ecg, " 16 2000 16 ", " 16 1e-306 16 ", count=15)  # sample / gain overflows to inf
    good, reasons = ecg.run()
    assert "contains NaN or infinite samples" in reasons[VICTIM]
    ecg.check_after(good, reasons)


def test_missing_header_is_rejected_by_name(ecg):
    ecg.path(VICTIM, ".hea").unlink()
    good, reasons = ecg.run()
    assert reasons[VICTIM] == "listed in RECORDS but its .hea file is missing"
    ecg.check_after(good, reasons)


def test_a_missing_xyz_file_leaves_out_the_frank_leads_only(ecg):
    """Real PTB copies often lack the .xyz: the record keeps the leads of its .dat, the beats of lead II."""
    ecg.path(VICTIM, ".xyz").unlink()
    good, reasons = ecg.run()
    assert VICTIM in good
    assert reasons[f"{VICTIM}:s0015lre.xyz"] == "signal file missing: lead(s) vx, vy, vz left out, the others kept"
    records = pd.read_parquet(ecg.ws.ecg_records_validated).set_index("record")
    assert records.leads[VICTIM].split(",")[-1] == "v6"
    beats = stages.heartbeats(ecg.ws)
    assert beats.passed and VICTIM in set(TrainingSet.load(ecg.ws.heartbeats).labels.record)
    ecg.check_after(good, reasons)


def test_a_missing_dat_file_quarantines_the_record_for_its_lead_ii(ecg):
    ecg.path(VICTIM, ".dat").unlink()
    good, reasons = ecg.run()
    assert VICTIM not in good and "lead(s) i, ii, iii" in reasons[f"{VICTIM}:s0015lre.dat"]
    assert reasons[VICTIM] == f"{VICTIM}: lead(s) ['ii'] not in record (has ['vx', 'vy', 'vz'])"  # the beats' lead
    ecg.check_after(good, reasons)


def test_a_record_with_every_signal_file_missing_is_rejected_by_name(ecg):
    ecg.path(VICTIM, ".dat").unlink()
    ecg.path(VICTIM, ".xyz").unlink()
    good, reasons = ecg.run()
    assert reasons[VICTIM] == "patient002/s0015lre: signal files s0015lre.dat, s0015lre.xyz missing"
    ecg.check_after(good, reasons)


def test_record_names_escaping_the_source_are_rejected_and_nothing_outside_is_read(ecg, tmp_path):
    (tmp_path / "outside.hea").write_text("outside 1 1000 10\noutside.dat 16 200 16 0 0 0 0 i\n")
    with open(ecg.src / "RECORDS", "a") as f:
        f.write("../outside\n/etc/passwd\n")
    good, reasons = ecg.run()
    assert reasons["../outside"] == "'../outside': path would leave the source directory"
    assert reasons["/etc/passwd"] == "'/etc/passwd': path would leave the source directory"
    ecg.check_after(good, reasons)


def test_a_header_naming_a_signal_file_outside_the_source_is_rejected(ecg):
    edit_header(ecg, "s0015lre.xyz 16", "../../secret.xyz 16", count=3)
    good, reasons = ecg.run()
    # wfdb's header grammar already refuses a path as a signal file name; check_signal_files would refuse it next
    assert (
        reasons[VICTIM] == "patient002/s0015lre: unreadable header (HeaderSyntaxError: invalid syntax in signal line)"
    )
    ecg.check_after(good, reasons)


def test_nan_lead_is_quarantined(ecg):
    signal = ecg_like()
    signal[5000:6000, 1] = np.nan  # WFDB stores NaN as the format's invalid-sample value
    write_record(ecg.src, "s9001nan", signal, ["i", "ii"])
    good, reasons = ecg.run()
    assert reasons["patient900/s9001nan"] == "contains NaN or infinite samples"
    ecg.check_after(good, reasons)


def test_flat_lead_is_quarantined(ecg):
    signal = ecg_like()
    signal[:, 1] = 0.25
    write_record(ecg.src, "s9002flat", signal, ["i", "ii"])
    good, reasons = ecg.run()
    assert "a lead is flat in more than 20% of samples" in reasons["patient900/s9002flat"]
    ecg.check_after(good, reasons)


def test_unknown_lead_name_is_quarantined_with_the_name(ecg):
    write_record(ecg.src, "s9003odd", ecg_like(), ["ii", "lead7"])
    good, reasons = ecg.run()
    assert reasons["patient900/s9003odd"] == "unknown lead name(s) ['lead7']"
    ecg.check_after(good, reasons)


def test_required_lead_missing_names_the_lead(ecg):
    write_record(ecg.src, "s9004noii", ecg_like(), ["i", "v1"])
    good, reasons = ecg.run()
    assert reasons["patient900/s9004noii"] == "patient900/s9004noii: lead(s) ['ii'] not in record (has ['i', 'v1'])"
    ecg.check_after(good, reasons)


def test_disk_full_while_writing_keeps_the_previous_output(ecg, monkeypatch):
    def fill_disk(self, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PAR1" + b"\0" * 100)  # a few bytes made it before the device filled
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fill_disk)
    ecg.path(VICTIM, ".hea").unlink()  # the new run would store other content
    with pytest.raises(StorageError, match=r"records\.parquet: cannot write \(disk full\); the previous version"):
        stages.ingest_ecg(ecg.ws)
    monkeypatch.undo()
    assert_kept(ecg.baseline, snapshot(ecg.ws.data), allowed_to_change=("quarantine/", ".locks"))
    ecg.check_after(*ecg.run())


def test_a_killed_ingest_keeps_the_previous_version_and_reruns_to_the_same_hash(ecg):
    edit_header(ecg, "s0015lre 15 1000 115200", "s0015lre 15 1000 100000")  # a run that would change the output
    killed = run_killed("write", 2, ["ecg-ingest"], ecg.ws.root)  # 1: quarantine list, 2: the records table
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list(ecg.ws.data.rglob("*.tmp")), "the kill should leave the half-written temporary file"
    assert_kept(ecg.baseline, snapshot(ecg.ws.data), allowed_to_change=("quarantine/", ".locks"))
    shutil.rmtree(ecg.src)
    shutil.copytree(ecg.pristine, ecg.src)
    rerun = run_cli(["ecg-ingest"], ecg.ws.root)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "left by process" in rerun.stderr  # the next write of the file removed the dead writer's temporary
    assert_intact(ecg.ws.data)
    assert_kept(ecg.baseline, snapshot(ecg.ws.data), allowed_to_change=(".locks",))  # byte for byte the same
