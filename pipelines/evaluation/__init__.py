"""Evaluation of trained models: reconstruction, KL per latent, disentanglement metrics, traversals."""
