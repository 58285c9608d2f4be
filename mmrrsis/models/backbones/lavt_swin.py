# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS
from ..layers import PWAM, LanguageGate, sincos_2d_position_embedding


@MODELS.register_module()
class LAVTSwinTransformer(SwinTransformer):
    """Language-aware Swin Transformer of LAVT: PWAM and a language gate after each stage.

    For every fusing stage i (``X`` the stage's tokens after its Swin blocks)::

        F_i   = PWAM_i(X, text_feats, text_mask)
        X     = X + Gate_i(F_i) * F_i         # the fused stream goes on into PatchMerging
        out_i = norm_i(F_i)                   # the decoder gets F_i, not X

    Stages that do not fuse behave as in :class:`mmseg.models.backbones.SwinTransformer`
    (``out_i = norm_i(X)``).

    The Swin part *is* MMSeg's ``SwinTransformer`` (same ``patch_embed``, ``stages``,
    ``norm{i}``), so MMSeg-format ImageNet checkpoints, including window-12 / 384 ones, load
    through ``init_cfg=dict(type='Pretrained', checkpoint=...)`` with MMSeg's handling of the
    relative position bias tables. The fusion modules live in ``pwams`` and ``gates``.

    Paper: `LAVT: Language-Aware Vision Transformer for Referring Image Segmentation
    <https://arxiv.org/abs/2112.02244>`_ (``MultiModalSwinTransformer`` in yz93/LAVT-RIS).

    Deviation from the reference code: the last stage's language gate is not built, because
    its result feeds nothing (LAVT keeps it as dead weights, which would make DDP need
    ``find_unused_parameters``). The outputs are identical.

    Args:
        text_dim (int): Channels C_t of the text features. Defaults to 768 (BERT-base).
        pwam_num_heads (int | Sequence[int]): Attention heads of each stage's PWAM.
            Defaults to 1 (LAVT's ``num_heads_fusion=[1, 1, 1, 1]``).
        pwam_dropout (float): Dropout inside PWAM (LAVT ``fusion_drop``). Defaults to 0.
        fusion_stages (Sequence[int]): Stages (0-based) followed by language fusion.
            Defaults to (0, 1, 2, 3).
        gate (bool): Add ``F_i`` to the visual stream through the tanh language gate. With
            False it is added unweighted, ``X = X + F_i`` (LAVT's ablation without gate).
            Defaults to True.
        abs_pos_embed_init (str): Initial value of the absolute position embedding when
            ``use_abs_pos_embed=True`` (not in LAVT) and no checkpoint provides it:
            ``'trunc_normal'`` (MMSeg, std 0.02) or ``'sincos'`` (a fixed 2-D sine-cosine
            table, still learned afterwards), which gives a model trained from scratch the
            token positions from the first step. Defaults to ``'trunc_normal'``.
        pwam_coord_feats (bool): Feed every PWAM the normalised pixel coordinates (see
            :class:`PWAM`; not in LAVT). Defaults to False.
        **kwargs: Arguments of :class:`mmseg.models.backbones.SwinTransformer`
            (``embed_dims``, ``depths``, ``num_heads``, ``window_size``, ``out_indices``,
            ``drop_path_rate``, ``init_cfg`` ...).
    """

    def __init__(self,
                 text_dim: int = 768,
                 pwam_num_heads: Union[int, Sequence[int]] = 1,
                 pwam_dropout: float = 0.0,
                 fusion_stages: Sequence[int] = (0, 1, 2, 3),
                 gate: bool = True,
                 abs_pos_embed_init: str = 'trunc_normal',
                 pwam_coord_feats: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if abs_pos_embed_init not in ('trunc_normal', 'sincos'):
            raise ValueError(f"abs_pos_embed_init must be 'trunc_normal' or 'sincos', got "
                             f'{abs_pos_embed_init!r}.')
        self.abs_pos_embed_init = abs_pos_embed_init
        pretrain_img_size = kwargs.get('pretrain_img_size', 224)
        self.pretrain_img_size = (pretrain_img_size, ) * 2 if isinstance(
            pretrain_img_size, int) else tuple(pretrain_img_size)
        self.patch_size = kwargs.get('patch_size', 4)
        num_stages = len(self.stages)
        self.text_dim = text_dim
        self.fusion_stages = tuple(sorted(set(fusion_stages)))
        self.gate = gate
        if any(not 0 <= i < num_stages for i in self.fusion_stages):
            raise ValueError(f'fusion_stages {fusion_stages} must lie in [0, {num_stages}).')
        if num_stages - 1 in self.fusion_stages and num_stages - 1 not in self.out_indices:
            raise ValueError('fusing language after the last stage needs it in out_indices: '
                             'its PWAM output would feed nothing.')
        if isinstance(pwam_num_heads, int):
            pwam_num_heads = [pwam_num_heads] * num_stages
        if len(pwam_num_heads) != num_stages:
            raise ValueError(f'pwam_num_heads needs one entry per stage ({num_stages}), '
                             f'got {pwam_num_heads}.')
        self.pwam_num_heads = list(pwam_num_heads)

        # ModuleDicts keyed by stage index give checkpoint keys like ``pwams.2.*``.
        self.pwams = nn.ModuleDict()
        self.gates = nn.ModuleDict()
        for i in self.fusion_stages:
            channels = self.num_features[i]
            self.pwams[str(i)] = PWAM(
                channels=channels,
                text_channels=text_dim,
                num_heads=pwam_num_heads[i],
                dropout=pwam_dropout,
                coord_feats=pwam_coord_feats)
            if gate and i < num_stages - 1:
                self.gates[str(i)] = LanguageGate(channels)
        self._register_load_state_dict_pre_hook(self._keep_own_relative_position_index)

    def _keep_own_relative_position_index(self, state_dict: dict, prefix: str, *args) -> None:
        """Keep this model's ``relative_position_index`` buffers when loading.

        They are a fixed function of the window size. Converted ImageNet checkpoints carry
        them, so a checkpoint of another window size (e.g. window 7 into window 12) would
        stop ``load_state_dict`` with a size mismatch after MMSeg has resized the bias tables.
        """
        for name, buffer in self.named_buffers():
            key = prefix + name
            if name.endswith('relative_position_index') and key in state_dict and \
                    state_dict[key].shape != buffer.shape:
                state_dict[key] = buffer.clone()

    def train(self, mode: bool = True) -> 'LAVTSwinTransformer':
        """Set the mode and keep frozen stages frozen; returns ``self`` like ``nn.Module``
        (MMSeg's ``SwinTransformer.train`` returns None)."""
        super().train(mode)
        return self

    def init_weights(self) -> None:
        """Initialize the Swin part as MMSeg does (pretrained or trunc-normal), then the
        fusion modules as LAVT does: trunc-normal (std 0.02) linear layers, PyTorch's default
        for the 1x1 convolutions."""
        super().init_weights()
        if self.use_abs_pos_embed and self.abs_pos_embed_init == 'sincos' and (
                self.init_cfg is None or self.init_cfg.get('type') != 'Pretrained'):
            rows = self.pretrain_img_size[0] // self.patch_size
            cols = self.pretrain_img_size[1] // self.patch_size
            self.absolute_pos_embed.data.copy_(
                sincos_2d_position_embedding(rows, cols, self.absolute_pos_embed.shape[-1]))
        for m in self.gates.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Extract language-aware multi-scale features.

        Args:
            x (Tensor): Images (B, 3, H, W).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.

        Returns:
            tuple[Tensor]: One map per stage in ``out_indices``, (B, C_i, H_i, W_i), with
            C_i = ``embed_dims * 2**i`` and H_i = H / (4 * 2**i) for the default strides.
        """
        return self._stages_forward(
            x, lambda i, x, hw: self._fuse_language(i, x, hw, text_feats, text_mask))

    def _fuse_language(self, i: int, x: Tensor, hw_shape, text_feats: Tensor,
                       text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Stage ``i``'s PWAM and gate on tokens (B, N_i, C_i): ``(new stream, F_i)``."""
        key = str(i)
        if key not in self.pwams:
            return x, x
        fused = self.pwams[key](x, text_feats, text_mask, hw_shape)  # (B, N_i, C_i)
        if key in self.gates:
            x = self.gates[key](fused, identity=x)
        elif not self.gate:
            x = x + fused
        return x, fused

    def _stages_forward(self, x: Tensor, fuse: Callable) -> Tuple[Tensor, ...]:
        """Patch embedding, then per stage: the Swin blocks, ``fuse(i, x, hw_shape) -> (x, out)``
        (the language fusion: the new residual stream and what the stage outputs), PatchMerging
        and the output norm. Shared by the LAVT, BSC and FIANet backbones.

        Args:
            x (Tensor): Images (B, 3, H, W).
            fuse (Callable): The fusion of stage ``i`` on tokens (B, N_i, C_i).
        """
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)

        outs: List[Tensor] = []
        for i, stage in enumerate(self.stages):
            # SwinBlockSequence.forward with the fusion between the blocks and PatchMerging.
            for block in stage.blocks:
                x = block(x, hw_shape)  # (B, N_i, C_i)
            x, out = fuse(i, x, hw_shape)
            out_hw_shape = hw_shape
            if stage.downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                out = out.view(-1, *out_hw_shape,
                               self.num_features[i]).permute(0, 3, 1, 2).contiguous()
                outs.append(out)
        return tuple(outs)
