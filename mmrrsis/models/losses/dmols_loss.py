# Copyright (c) mmrrsis contributors. All rights reserved.
"""D-MOLS, BTDNet's Dual-Modal Object Learning Strategy, as one loss component."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS

TARGETS = ('feature', 'token')
FEATURE_SOURCES = ('encoded', 'updated')
TOKEN_SCOPES = ('erased', 'all')
MEMORY_LEVELS = ('coarsest', '1/8', 'mci')


@MODELS.register_module()
class DMOLSLoss(BaseModule):
    """Reconstruction loss of D-MOLS (training only): erased words are recovered from the
    multimodal visual features, an interpretation (``configs/btdnet/README.md``).

    The loss owns the reconstruction decoder R::

        memory = Linear(flatten(M))                     # (B, N, D), M: fused visual map
        h      = TransformerDecoder(Linear(L~), memory)  # L~: words of the ERASED text
        target='feature':  r = Linear(h)                 # (B, L, C_t)
            loss = mean_t [1 - cos(r_t, stopgrad(W_t))]  # W: full-text words
        target='token':    logits = MLMHead(h)           # (B, L, V), tied word embeddings
            loss = mean_t CE(logits_t, id_t)             # original token ids

    averaged over the erased pieces (``token_scope='erased'``) or over every real token
    (``'all'``), times ``loss_weight``. ``feature_source`` says which full-text words the
    segmentor hands in as ``W``: ``'encoded'`` (text-encoder output) or ``'updated'`` (after
    the last BSC). The segmentor chooses the erasure and the memory map ``M``
    (``memory``: ``'coarsest'`` pyramid level, the ``'1/8'`` level, or T-BTD's ``'mci'`` map)
    and never calls this module in ``predict``.

    Precedent of the feature target: DMMI (Hu et al., "Beyond One-to-One: Rethinking the
    Referring Image Segmentation", ICCV 2023): ``1 - cos`` to the detached full-text word
    features after the last fusion stage, weight 0.01, one Transformer decoder layer.

    Paper: `BTDNet <https://arxiv.org/abs/2502.08486>`_ ("a reconstruction loss named L_re after
    erasing text entity words, in which the reconstruction module leverages multimodal visual
    features to guide text reconstruction"); the module itself is an interpretation.

    Args:
        text_dim (int): Channels C_t of the words.
        visual_channels (int): Channels of the memory map M.
        vocab_size (int, optional): Vocabulary size V (``target='token'`` only).
        target (str): ``'feature'`` or ``'token'``. Defaults to ``'feature'``.
        feature_source (str): ``'encoded'`` or ``'updated'`` (read by the segmentor).
            Defaults to ``'updated'``.
        token_scope (str): ``'erased'`` or ``'all'``. Defaults to ``'all'``.
        memory (str): ``'coarsest'``, ``'1/8'`` or ``'mci'`` (read by the segmentor).
            Defaults to ``'1/8'``.
        embed_dims (int, optional): Width D of the decoder. Defaults to ``text_dim``.
        num_layers (int): Transformer decoder layers. Defaults to 1.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (int): FFN width / D. Defaults to 4.
        tie_word_embeddings (bool): ``'token'`` target: decode with the text encoder's word
            embeddings (BERT's MLM head); False learns ``Linear(C_t, V)``. Defaults to True.
        loss_weight (float): lambda_re. Defaults to 0.01.
        loss_name (str): Key of the loss in the losses dict. Defaults to ``'loss_rec'``.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 text_dim: int,
                 visual_channels: int,
                 vocab_size: Optional[int] = None,
                 target: str = 'feature',
                 feature_source: str = 'updated',
                 token_scope: str = 'all',
                 memory: str = '1/8',
                 embed_dims: Optional[int] = None,
                 num_layers: int = 1,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 tie_word_embeddings: bool = True,
                 loss_weight: float = 0.01,
                 loss_name: str = 'loss_rec',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value, allowed in (('target', target, TARGETS),
                                     ('feature_source', feature_source, FEATURE_SOURCES),
                                     ('token_scope', token_scope, TOKEN_SCOPES),
                                     ('memory', memory, MEMORY_LEVELS)):
            if value not in allowed:
                raise ValueError(f'DMOLSLoss: {name} must be one of {allowed}, got {value!r}')
        if target == 'token' and vocab_size is None:
            raise ValueError("DMOLSLoss(target='token') needs vocab_size")
        embed_dims = embed_dims or text_dim
        if embed_dims % num_heads:
            raise ValueError(f'DMOLSLoss: embed_dims ({embed_dims}) must be divisible by '
                             f'num_heads ({num_heads})')
        self.text_dim = text_dim
        self.target = target
        self.feature_source = feature_source
        self.token_scope = token_scope
        self.memory = memory
        self.tie_word_embeddings = tie_word_embeddings and target == 'token'
        self.loss_weight = loss_weight
        self._loss_name = loss_name

        self.query_proj = nn.Linear(text_dim, embed_dims)
        self.memory_proj = nn.Linear(visual_channels, embed_dims)
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(
                embed_dims, num_heads, dim_feedforward=ffn_ratio * embed_dims, dropout=0.0,
                batch_first=False), num_layers)  # sequence-first, see reconstruct()
        if target == 'feature':
            self.out_proj = nn.Linear(embed_dims, text_dim)
        else:
            self.transform = nn.Sequential(
                nn.Linear(embed_dims, text_dim), nn.GELU(), nn.LayerNorm(text_dim))
            if self.tie_word_embeddings:
                self.vocab_bias = nn.Parameter(torch.zeros(vocab_size))
            else:
                self.vocab_proj = nn.Linear(text_dim, vocab_size)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the losses dict (MMSeg convention)."""
        return self._loss_name

    def reconstruct(self,
                    query_feats: Tensor,
                    query_mask: Optional[Tensor],
                    memory: Tensor,
                    word_embeddings: Optional[Tensor] = None) -> Tensor:
        """Run R.

        Args:
            query_feats (Tensor): (B, L, C_t) words of the erased text.
            query_mask (Tensor, optional): (B, L), 1 for real tokens.
            memory (Tensor): (B, C_v, H, W) fused visual map.
            word_embeddings (Tensor, optional): (V, C_t), for the tied token target.

        Returns:
            Tensor: (B, L, C_t) reconstructed features (``'feature'``) or (B, L, V)
            vocabulary logits (``'token'``).
        """
        # sequence-first and contiguous, (N, B, D) / (L, B, D): a transposed memory makes the
        # attention's key/value projections a batched product over an expanded weight
        mem = self.memory_proj(memory.flatten(2).permute(2, 0, 1))  # (N, B, D)
        padding = None if query_mask is None else ~query_mask.bool()
        h = self.decoder(self.query_proj(query_feats.transpose(0, 1)), mem,
                         tgt_key_padding_mask=padding).transpose(0, 1)  # (B, L, D)
        if self.target == 'feature':
            return self.out_proj(h)
        h = self.transform(h)  # (B, L, C_t)
        if self.tie_word_embeddings:
            if word_embeddings is None:
                raise ValueError('DMOLSLoss(tie_word_embeddings=True) needs the word '
                                 'embeddings (V, C_t)')
            return F.linear(h, word_embeddings, self.vocab_bias)
        return self.vocab_proj(h)

    def loss_by_output(self,
                       output: Tensor,
                       erase_mask: Tensor,
                       real_mask: Tensor,
                       target_feats: Optional[Tensor] = None,
                       target_ids: Optional[Tensor] = None) -> Tensor:
        """The weighted loss of R's output (0, in the graph, when no token is selected).

        Args:
            output (Tensor): (B, L, C_t) or (B, L, V) from :meth:`reconstruct`.
            erase_mask (Tensor): (B, L) bool, True at erased pieces.
            real_mask (Tensor): (B, L), 1 for real tokens (of erased sentences).
            target_feats (Tensor, optional): (B, L, C_t) full-text words (detached here).
            target_ids (Tensor, optional): (B, L) original token ids.
        """
        select = erase_mask.bool() if self.token_scope == 'erased' else real_mask.bool()
        if not select.any():
            return output.sum() * 0.0  # keeps the graph (DDP) without a value
        if self.target == 'feature':
            if target_feats is None:
                raise ValueError("DMOLSLoss(target='feature') needs target_feats")
            cos = F.cosine_similarity(
                output[select].float(), target_feats.detach()[select].float(), dim=-1)
            loss = (1 - cos).mean()
        else:
            if target_ids is None:
                raise ValueError("DMOLSLoss(target='token') needs target_ids")
            loss = F.cross_entropy(output[select].float(), target_ids[select])
        return self.loss_weight * loss

    @torch.no_grad()
    def constant_loss(self,
                      erase_mask: Tensor,
                      real_mask: Tensor,
                      target_feats: Optional[Tensor] = None,
                      target_ids: Optional[Tensor] = None) -> Tensor:
        """The weighted loss of the best constant predictor of this batch's targets.

        A diagnostic reference for ``loss_rec``: what R would reach without reading the
        query or the memory, given the batch's own targets. ``'feature'``: every token
        predicted as the mean direction of the selected unit targets (this maximises the mean
        cosine); near 0 means the targets themselves are nearly one vector. ``'token'``: the
        empirical token frequencies of the selection (the unigram cross-entropy).

        Args:
            erase_mask (Tensor): (B, L) bool, True at erased pieces.
            real_mask (Tensor): (B, L), 1 for real tokens (of erased sentences).
            target_feats (Tensor, optional): (B, L, C_t) full-text words.
            target_ids (Tensor, optional): (B, L) original token ids.
        """
        select = erase_mask.bool() if self.token_scope == 'erased' else real_mask.bool()
        B, L = select.shape
        if self.target == 'feature':
            if target_feats is None:
                raise ValueError("DMOLSLoss(target='feature') needs target_feats")
            direction = F.normalize(target_feats[select].float(), dim=-1).sum(0)
            output = direction.expand(B, L, -1)
        else:
            if target_ids is None:
                raise ValueError("DMOLSLoss(target='token') needs target_ids")
            ids = target_ids[select]
            size = int(ids.max()) + 1 if ids.numel() else 1
            counts = torch.bincount(ids, minlength=size).float()
            logits = counts.clamp_min(1e-12).log().masked_fill(counts == 0, -1e4)
            output = logits.expand(B, L, -1)
        return self.loss_by_output(output, erase_mask, real_mask, target_feats, target_ids)

    def forward(self,
                query_feats: Tensor,
                query_mask: Tensor,
                memory: Tensor,
                erase_mask: Tensor,
                target_feats: Optional[Tensor] = None,
                target_ids: Optional[Tensor] = None,
                word_embeddings: Optional[Tensor] = None,
                sample_mask: Optional[Tensor] = None) -> Tensor:
        """``loss_rec`` of a batch.

        Args:
            query_feats (Tensor): (B, L, C_t) encoded words of the erased text.
            query_mask (Tensor): (B, L), 1 for real tokens.
            memory (Tensor): (B, C_v, H, W) fused visual map (see ``memory``).
            erase_mask (Tensor): (B, L) bool, True at the erased pieces.
            target_feats (Tensor, optional): (B, L, C_t) full-text words (``'feature'``).
            target_ids (Tensor, optional): (B, L) original ids (``'token'``).
            word_embeddings (Tensor, optional): (V, C_t) for the tied token target.
            sample_mask (Tensor, optional): (B,) bool, samples that enter the loss (those with
                an erased piece). Defaults to the samples with any erased piece.

        Returns:
            Tensor: The weighted scalar loss.
        """
        if sample_mask is None:
            sample_mask = erase_mask.bool().any(dim=1)
        output = self.reconstruct(query_feats, query_mask, memory, word_embeddings)
        real = query_mask.bool() & sample_mask[:, None]
        return self.loss_by_output(output, erase_mask.bool() & real, real, target_feats,
                                   target_ids)
