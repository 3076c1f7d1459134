"""The training step of G stacked MLP beta-VAEs with its backward pass written out by hand.

Autograd records ~100 small operations per step for this network and Adam walks 12 parameters per model; at
batch 64 that bookkeeping, not the arithmetic, is most of a step (on a CPU and, as kernel launches, on a GPU).
Here the forward pass keeps only the activations the backward needs, the gradients are the closed forms below,
written straight into the views of one flat gradient buffer (`StackedVAE.flat`), and Adam steps that one tensor.
`tests/vae/test_grid.py` checks the result against a plain `nn.Linear` + `vae_loss` loop under autograd.

Per model g, with B samples in the batch, the loss (`losses.vae_loss`) is
    L = mean_b recon_b + beta * K + gamma * |K - C(t)|,   K = mean_b sum_d KL_bd,
and its gradients are
    dL/d out  = (out - x) / (sigma^2 B)   (Gaussian)   or   (sigmoid(out) - x) / B   (Bernoulli logits),
    dL/d mu   = dz + w mu,   dL/d logvar = 0.5 (dz eps std + w (std^2 - 1)),   w = (beta + gamma sign(K - C)) / B,
with z = mu + eps std and dz the decoder's gradient at z; each Linear layer y = h W + b gives dW = h^T dy,
db = sum_b dy and dh = dy W^T, and a ReLU zeroes dh where its output was 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight (G, in, out), bias (G, 1, out))


def _per_model(h: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`h` with a leading model dimension: the batch (B, F) shared by all G models as a stride-0 (G, B, F) view."""
    return h if h.dim() == 3 else h.expand(like.shape[0], *h.shape)


def _mlp_forward(h: torch.Tensor, layers: list[Layer]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output of Linear layers with ReLU between them, and each layer's input (what the backward needs)."""
    inputs = []
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        h = torch.baddbmm(b, _per_model(h, w), w)
        if i < len(layers) - 1:
            h = h.relu_()
    return h, inputs


def _mlp_backward(dy: torch.Tensor, layers: list[Layer], inputs: list[torch.Tensor], grads: list[Layer],
                  need_input: bool, layer_done: Callable[[int], None]) -> torch.Tensor | None:  # fmt: skip
    """Write each layer's weight and bias gradient into `grads` (float32, whatever the layers' dtype), calling
    `layer_done(i)` once layer i's are written and its weights no longer needed; return the gradient at the MLP's
    input."""
    for i in reversed(range(len(layers))):
        h = _per_model(inputs[i], dy)
        grad_w, grad_b = grads[i]
        if grad_w.dtype == dy.dtype:
            torch.bmm(h.transpose(1, 2), dy, out=grad_w)
            torch.sum(dy, dim=1, keepdim=True, out=grad_b)
        else:  # bf16 products, float32 gradients: the cast is the copy
            grad_w.copy_(torch.bmm(h.transpose(1, 2), dy))
            grad_b.copy_(dy.sum(dim=1, keepdim=True, dtype=grad_b.dtype))
        if i == 0 and not need_input:
            layer_done(i)
            return None
        dy = torch.bmm(dy, layers[i][0].transpose(1, 2))
        layer_done(i)
        if i > 0:
            dy = torch.ops.aten.threshold_backward(dy, inputs[i], 0)  # the ReLU that made inputs[i]
    return dy


def forward_backward(
    encoder: list[Layer],
    decoder: list[Layer],
    grads: tuple[list[Layer], list[Layer]],
    x: torch.Tensor,
    eps: torch.Tensor,
    weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    likelihood: str,
    sigma: float,
    layer_done: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step's loss (G,), recon (G,) and KL per latent (G, D), each the batch mean, of the normalised batch `x`
    (B, L) shared by the G models, given their noise `eps` (G, B, D) and (beta, gamma, C(t)) each (G,); the
    gradients of every model's own loss are written into `grads` (encoder, decoder), views shaped as the layers.
    The matrix multiplies run in the layers' dtype: bfloat16 layers (the weights cast once per step) give bf16
    products and activations with float32 accumulation, and float32 for the latents, the loss and the gradients.
    `layer_done(k)`, when given, is called with a layer's index (encoder first, then decoder, the order of
    `StackedVAE.layers`) as soon as its gradients are written and the backward pass is done with its weights:
    the trainer steps that layer's Adam there, while its gradient and weights are still in cache.
    Written for few operations (each one a kernel launch on a GPU): shared terms computed once, fused
    multiply-adds, the latent gradient written in place."""
    beta, gamma, capacity = weights
    batch = x.shape[0]
    dtype = encoder[0][0].dtype
    h, enc_inputs = _mlp_forward(x.to(dtype), encoder)
    mu, logvar = h.float().chunk(2, dim=-1)
    std = logvar.mul(0.5).exp_()
    noise = eps * std  # z - mu
    out, dec_inputs = _mlp_forward((mu + noise).to(dtype), decoder)
    out = out.float()
    if likelihood == "bernoulli":
        target = x.clamp(0.0, 1.0).expand_as(out)
        recon = F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(dim=(1, 2)).div_(batch)
        d_out = (torch.sigmoid(out) - target).div_(batch)
    else:
        d_out = out - x
        recon = d_out.square().sum(dim=(1, 2)).mul_(0.5 / (sigma**2 * batch))
        d_out.mul_(1.0 / (sigma**2 * batch))
    var_minus_1 = std.square().sub_(1.0)
    kl = torch.addcmul(var_minus_1 - logvar, mu, mu).mul_(0.5).mean(dim=1)  # (G, D)
    kl_total = kl.sum(dim=-1)
    off_target = kl_total - capacity
    loss = torch.addcmul(torch.addcmul(recon, beta, kl_total), gamma, off_target.abs())
    w = torch.addcmul(beta, gamma, off_target.sign_()).div_(batch)[:, None, None]
    done = layer_done or (lambda k: None)
    dz = _mlp_backward(d_out.to(dtype), decoder, dec_inputs, grads[1], True, lambda i: done(len(encoder) + i))
    dz = dz.float()
    d_h = torch.empty_like(h, dtype=torch.float32)  # (d mu, d logvar), written in place: no concatenation
    d_mu, d_logvar = d_h.chunk(2, dim=-1)
    torch.addcmul(dz, w, mu, out=d_mu)
    torch.addcmul(dz.mul_(noise), w, var_minus_1, out=d_logvar).mul_(0.5)
    _mlp_backward(d_h.to(dtype), encoder, enc_inputs, grads[0], False, done)
    return loss, recon, kl
