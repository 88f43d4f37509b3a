"""Shared test set-up: tolerances and small helpers."""

import torch

# Gradients are float32 computations; the seed's numbers are exact in float32, so this is tight.
ATOL = 1e-5
RTOL = 1e-5


def close(a, b, atol=ATOL, rtol=RTOL) -> bool:
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          atol=atol, rtol=rtol)
