"""ECG: WFDB ingest (PTB layout), R-peak detection and heartbeat segmentation."""
