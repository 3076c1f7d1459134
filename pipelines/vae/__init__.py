"""The beta-VAE: MLP model, beta-VAE and capacity losses, and the training loop."""
