"""The beta-VAE: MLP model, the regularizers that make the models of the sweep, and the training loop.

Importing it turns on flushing denormal floats to zero, before PyTorch starts its CPU threads, which inherit it:
late in a run tiny gradients and Adam moments fall below ~1.2e-38, where x86 arithmetic is many times slower (a grid
of 16 fell to half its speed by epoch 8). `torch.set_flush_denormal` sets only the calling thread; threads created
after it copy its floating-point environment (pthread_create), those created before do not, so it is set here, at
import, rather than when training starts (tests/vae/test_denormals.py). Values that small do not change a result.
"""

import torch

torch.set_flush_denormal(True)
