from tests.ecg.test_physionet import server  # noqa: F401  (the PhysioNet-like server for test_download.py)
