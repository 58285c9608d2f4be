# Copyright (c) mmrrsis contributors. All rights reserved.
import torch
from torch import Tensor


def sincos_2d_position_embedding(h: int, w: int, dims: int,
                                 temperature: float = 10000.) -> Tensor:
    """Fixed 2-D sine-cosine position embedding (MoCo v3 / MAE layout).

    A quarter of the channels each carries ``sin(x w_k)``, ``cos(x w_k)``, ``sin(y w_k)``,
    ``cos(y w_k)`` with ``w_k = temperature ** (-k / (dims / 4))``, x and y the integer
    column and row of the token.

    Args:
        h (int): Rows of the token grid.
        w (int): Columns of the token grid.
        dims (int): Channels; must be divisible by 4.
        temperature (float): Frequency base. Defaults to 10000.

    Returns:
        Tensor: (1, h * w, dims), tokens in row-major order.
    """
    if dims % 4:
        raise ValueError(f'a 2-D sin-cos position embedding needs dims divisible by 4, '
                         f'got {dims}.')
    quarter = dims // 4
    omega = torch.arange(quarter, dtype=torch.float64) / quarter
    omega = 1. / temperature**omega  # (D/4, )
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
        indexing='ij')
    out_x = xs.reshape(-1, 1) * omega[None]  # (N, D/4)
    out_y = ys.reshape(-1, 1) * omega[None]
    emb = torch.cat([out_x.sin(), out_x.cos(), out_y.sin(), out_y.cos()], dim=1)
    return emb.float().unsqueeze(0)


def coordinate_features(h: int, w: int, device=None, dtype=None) -> Tensor:
    """Normalised pixel-centre coordinates of an (h, w) grid, (1, 2, h * w), row-major.

    Channel 0 is x, channel 1 is y, both ``(2 * i + 1) / n - 1`` in (-1, 1): the same value
    for the same relative position at every pyramid level and input size.
    """
    ys = (torch.arange(h, device=device, dtype=torch.float32) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=torch.float32) * 2 + 1) / w - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    coords = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)])  # (2, h * w)
    return coords.unsqueeze(0).to(dtype=dtype or torch.float32)
