"""Domain code of the beta-VAE factor pipeline: plain functions on numpy, pandas and torch.

Nothing in this package imports dagster; `assets/` wires these functions into Dagster and `pipelines.cli`
exposes the same stages to DVC (`python -m pipelines <stage>`).
"""
