"""The beta-VAE: MLP model, the regularizers that make the models of the sweep, and the training loop."""
