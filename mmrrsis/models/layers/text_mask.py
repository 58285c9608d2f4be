# Copyright (c) mmrrsis contributors. All rights reserved.
"""Text-mask helpers shared by every language-aware module.

Convention (DESIGN.md): text features are ``(B, L, C_t)`` and the text mask is ``(B, L)``
with 1 for real tokens and 0 for padding, given as a float, long or bool tensor.
"""
from typing import Optional

import torch
from torch import Tensor

# LAVT adds ``1e4 * m - 1e4`` to the similarity logits; in float32 exp(-1e4) is exactly 0, so
# padded words get exactly zero attention weight. A finite constant (not -inf) keeps a
# sentence without any real token (all-zero mask) from producing NaNs.
LAVT_MASK_VALUE = 1e4


def normalize_text_mask(text_mask: Optional[Tensor], text_feats: Tensor) -> Tensor:
    """Return the text mask as a ``(B, L)`` tensor of the features' dtype.

    Args:
        text_mask (Tensor | None): (B, L), 1 for real tokens, 0 for padding (float, long or
            bool). ``None`` means every token is real.
        text_feats (Tensor): (B, L, C_t), gives the shape, dtype and device.

    Returns:
        Tensor: (B, L) float mask with values in {0, 1}.
    """
    if text_mask is None:
        return text_feats.new_ones(text_feats.shape[:2])
    if text_mask.shape != text_feats.shape[:2]:
        raise ValueError(f'text_mask of shape {tuple(text_mask.shape)} does not match '
                         f'text_feats of shape {tuple(text_feats.shape)}; expected (B, L).')
    return text_mask.to(dtype=text_feats.dtype, device=text_feats.device)


def text_mask_to_bias(text_mask: Tensor, mask_value: float = LAVT_MASK_VALUE) -> Tensor:
    """Turn a text mask into an additive attention bias, ``mask_value * (m - 1)``.

    Real tokens get 0 and padding tokens ``-mask_value`` (LAVT's ``1e4 * m - 1e4``).

    Args:
        text_mask (Tensor): (B, L), 1 for real tokens, 0 for padding.
        mask_value (float): Magnitude of the bias on padding tokens. Defaults to 1e4.

    Returns:
        Tensor: (B, L) float bias; unsqueeze it to broadcast over heads and queries.
    """
    text_mask = text_mask if text_mask.is_floating_point() else text_mask.float()
    return mask_value * text_mask - mask_value


def masked_mean(text_feats: Tensor, text_mask: Optional[Tensor] = None, eps: float = 1.0) -> Tensor:
    """Average text features over the real tokens only.

    Args:
        text_feats (Tensor): (B, L, C_t).
        text_mask (Tensor | None): (B, L), 1 for real tokens. ``None`` averages all tokens.
        eps (float): Lower bound of the token count, so an all-padding sentence gives 0
            instead of NaN. Defaults to 1.0.

    Returns:
        Tensor: (B, C_t) sentence feature.
    """
    text_mask = normalize_text_mask(text_mask, text_feats)
    summed = torch.einsum('blc,bl->bc', text_feats, text_mask)
    count = text_mask.sum(dim=1, keepdim=True).clamp(min=eps)
    return summed / count
