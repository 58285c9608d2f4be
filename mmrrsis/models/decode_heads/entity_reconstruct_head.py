# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class EntityReconstructHead(BaseModule):
    """D-MOLS reconstruction module of BTDNet: recover erased entity words from multimodal
    visual features (training only), an interpretation (models.md §4.5).

    ::

        memory = Linear(flatten(maps[memory_index]))          # (B, N, D) fused visual tokens
        h      = TransformerDecoder(Linear(L~), memory)       # L~: words of the ERASED text
        logits = MLMHead(h)                                   # (B, L, V), BERT-style transform
                                                              # and (tied) vocabulary decoder
        loss_rec = loss_weight * CE(logits[erased], original_ids[erased])

    Leakage rule: both ``L~`` and the visual maps must come from the erased text (the
    segmentor runs text encoder and fusion on it), so the erased words never reach R.

    Paper: `BTDNet <https://arxiv.org/abs/2502.08486>`_ ("a reconstruction loss named L_re
    after erasing text entity words, in which the reconstruction module leverages multimodal
    visual features to guide text reconstruction"); the module itself is an interpretation.

    Args:
        text_dim (int): Channels C_t of the words (and of tied word embeddings).
        visual_channels (int): Channels of the memory map ``maps[memory_index]``.
        vocab_size (int): Vocabulary size V of the text encoder.
        embed_dims (int, optional): Width D of the decoder. Defaults to ``text_dim``.
        num_layers (int): Transformer decoder layers. Defaults to 2.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (int): FFN width / D. Defaults to 4.
        memory_index (int): Which pyramid level is the memory. Defaults to -1 (coarsest).
        tie_word_embeddings (bool): Decode with the text encoder's word embeddings (passed to
            ``forward``) as BERT's MLM head; False learns an own ``Linear(C_t, V)``.
            Defaults to True.
        loss_weight (float): lambda_re. Defaults to 0.1.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 text_dim: int,
                 visual_channels: int,
                 vocab_size: int,
                 embed_dims: Optional[int] = None,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 memory_index: int = -1,
                 tie_word_embeddings: bool = True,
                 loss_weight: float = 0.1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        embed_dims = embed_dims or text_dim
        self.memory_index = memory_index
        self.tie_word_embeddings = tie_word_embeddings
        self.loss_weight = loss_weight
        self.vocab_size = vocab_size
        self.query_proj = nn.Linear(text_dim, embed_dims)
        self.memory_proj = nn.Linear(visual_channels, embed_dims)
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(
                embed_dims, num_heads, dim_feedforward=ffn_ratio * embed_dims, dropout=0.0,
                batch_first=True), num_layers)
        self.transform = nn.Sequential(
            nn.Linear(embed_dims, text_dim), nn.GELU(), nn.LayerNorm(text_dim))
        if tie_word_embeddings:
            self.vocab_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.vocab_proj = nn.Linear(text_dim, vocab_size)

    def forward(self,
                text_feats: Tensor,
                text_mask: Optional[Tensor],
                visual_feats: Sequence[Tensor],
                word_embeddings: Optional[Tensor] = None) -> Tensor:
        """Predict the vocabulary at every word position.

        Args:
            text_feats (Tensor): (B, L, C_t) words of the erased text.
            text_mask (Tensor, optional): (B, L), 1 for real tokens.
            visual_feats (Sequence[Tensor]): Fused maps (B, C_k, H_k, W_k) of the erased text.
            word_embeddings (Tensor, optional): (V, C_t), required when tied.

        Returns:
            Tensor: (B, L, V) vocabulary logits.
        """
        memory = visual_feats[self.memory_index].flatten(2).transpose(1, 2)  # (B, N, C)
        memory = self.memory_proj(memory)
        padding = None if text_mask is None else ~text_mask.bool()
        h = self.decoder(self.query_proj(text_feats), memory, tgt_key_padding_mask=padding)
        h = self.transform(h)  # (B, L, C_t)
        if self.tie_word_embeddings:
            if word_embeddings is None:
                raise ValueError('tie_word_embeddings=True needs the word embeddings (V, C_t)')
            return F.linear(h, word_embeddings, self.vocab_bias)
        return self.vocab_proj(h)

    def loss(self, logits: Tensor, target_ids: Tensor, erase_mask: Tensor) -> Tensor:
        """``loss_weight`` x mean CE over the erased positions (0 if nothing was erased).

        Args:
            logits (Tensor): (B, L, V).
            target_ids (Tensor): (B, L) original token ids.
            erase_mask (Tensor): (B, L) bool, True at erased positions.
        """
        erase_mask = erase_mask.bool()
        if not erase_mask.any():
            return logits.sum() * 0.0  # keeps the graph (DDP) without a value
        ce = F.cross_entropy(logits[erase_mask], target_ids[erase_mask])
        return self.loss_weight * ce
