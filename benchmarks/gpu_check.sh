#!/bin/sh
# What runs on a lent GPU machine (the `device` tool): the trainer tests on CUDA, then the training benchmark.
# Its python3 holds torch with CUDA, numpy, pandas and pytest; nothing here needs the project's venv.
# Each part has its own time limit, so that a hang in one cannot spend the whole device budget, and together they
# fit one device call (600 s): the tests took about a minute on an H100.
set -e
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/vae 2>&1 | tail -5
timeout 420 python3 -m benchmarks.training --rounds 5 --full-epochs 50 --full-samples 15000 2>&1 | grep -v " INFO "
