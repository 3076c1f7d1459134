"""Great Expectations suites for ECG records and beats, exchange bars and windows."""
