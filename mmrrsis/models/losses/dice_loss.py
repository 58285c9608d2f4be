# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class RefDiceLoss(nn.Module):
    """Dice loss with the semantics of the RRSIS reference code (RMSIN, FIANet).

    ``p = softmax(cls_score)`` over the classes and ``y`` the one-hot label; for every sample
    b and class c, with sums over the valid pixels x::

        dice_bc = (2 * sum_x p_bc(x) y_bc(x) + smooth) / (sum_x p_bc(x) + sum_x y_bc(x) + smooth)
        loss    = sum_{b, c} (1 - dice_bc)            # reduction='sum', as the reference

    Both classes (background and target) count, and the default sum grows with the batch
    size, as in ``loss/loss.py`` of Lsan2401/RMSIN (the ``DiceLoss`` FIANet copies; LAVT's
    README mentions Dice but never released it). The reference combines it with the weighted
    CE as ``0.9 * CE + 0.1 * Dice``: use ``loss_weight=0.1``. MMSeg's own ``DiceLoss``
    differs (exponent 2 in the denominator, smoothing 1, mean over classes).

    Pixels labelled ``ignore_index`` are left out of every sum (the reference has no ignore
    label). A one-channel ``cls_score`` is read as a sigmoid logit, class probabilities
    ``(1 - sigmoid, sigmoid)``.

    Args:
        smooth (float): Smoothing added to numerator and denominator. Defaults to 1e-6.
        reduction (str): ``'sum'`` (reference) or ``'mean'`` over samples and classes.
            Defaults to ``'sum'``.
        include_background (bool): Also count the background class (reference). With False
            only the classes ``1..C-1`` count. Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_`` to be summed
            into the total loss. Defaults to ``'loss_dice'``.
    """

    def __init__(self,
                 smooth: float = 1e-6,
                 reduction: str = 'sum',
                 include_background: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}.")
        self.smooth = smooth
        self.reduction = reduction
        self.include_background = include_background
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits (B, C, H, W), C = 2 (or 1, a sigmoid logit).
            label (Tensor): (B, H, W) class indices, ``ignore_index`` for ignored pixels.
            weight (Tensor, optional): (B, H, W) per-pixel weights multiplying both the
                predictions and the one-hot label inside the sums. Defaults to None.
            ignore_index (int): Label of ignored pixels. Defaults to 255.
            reduction_override (str, optional): ``'sum'`` or ``'mean'`` for this call.

        Returns:
            Tensor: Scalar loss, multiplied by ``loss_weight``.
        """
        reduction = reduction_override or self.reduction
        if cls_score.shape[1] == 1:
            fg = torch.sigmoid(cls_score)
            probs = torch.cat([1 - fg, fg], dim=1)
        else:
            probs = F.softmax(cls_score, dim=1)
        num_classes = probs.shape[1]

        valid = (label != ignore_index)
        one_hot = F.one_hot(torch.where(valid, label, 0).long(), num_classes)
        one_hot = one_hot.permute(0, 3, 1, 2).to(probs.dtype)  # (B, C, H, W)
        pixel_weight = valid.to(probs.dtype)
        if weight is not None:
            pixel_weight = pixel_weight * weight.to(probs.dtype)
        pixel_weight = pixel_weight.unsqueeze(1)  # (B, 1, H, W)
        probs = probs * pixel_weight
        one_hot = one_hot * pixel_weight

        inter = (probs * one_hot).flatten(2).sum(-1)  # (B, C)
        union = probs.flatten(2).sum(-1) + one_hot.flatten(2).sum(-1)
        loss = 1 - (2 * inter + self.smooth) / (union + self.smooth)
        if not self.include_background:
            loss = loss[:, 1:]
        loss = loss.sum() if reduction == 'sum' else loss.mean()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item; only ``loss_``-prefixed items enter the total loss."""
        return self._loss_name
