# Copyright (c) mmrrsis contributors. All rights reserved.
"""Drawing helpers: an image with its referring mask(s) and the expression as a caption."""
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Longest caption drawn (characters); the rest is replaced by a note of how much was cut.
MAX_CAPTION_CHARS = 300
#: Most caption lines drawn.
MAX_CAPTION_LINES = 12

#: Default colours (RGB): ground truth green, prediction orange-red.
GT_COLOR = (40, 220, 60)
PRED_COLOR = (255, 70, 20)


def _as_mask(mask: Optional[np.ndarray], shape, name: str) -> Optional[np.ndarray]:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.shape != tuple(shape):
        raise ValueError(f'{name} has shape {mask.shape}, expected {tuple(shape)} (the image)')
    return mask > 0


def _contour(mask: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Pixels of ``mask`` within ``thickness`` (4-neighbour steps) of its border."""
    inner = mask.copy()
    for _ in range(thickness):
        p = np.pad(inner, 1, constant_values=False)
        inner = inner & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~inner


def _wrap(text: str, font, width: int, draw: ImageDraw.ImageDraw) -> list:
    """Greedy word wrap to ``width`` pixels (words longer than a line are cut)."""
    lines = []
    for para in text.splitlines() or ['']:
        line = ''
        for word in para.split():
            cand = f'{line} {word}' if line else word
            if draw.textlength(cand, font=font) <= width or not line:
                line = cand
            else:
                lines.append(line)
                line = word
            while draw.textlength(line, font=font) > width and len(line) > 1:
                # hard-cut a single over-long word
                cut = max(1, len(line) * width // max(1, int(draw.textlength(line, font=font))))
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def _bounded_caption(text: str) -> str:
    """``text`` cut to :data:`MAX_CAPTION_CHARS` characters, saying how much was cut."""
    if len(text) <= MAX_CAPTION_CHARS:
        return text
    return f'{text[:MAX_CAPTION_CHARS]} ... ({len(text) - MAX_CAPTION_CHARS} more characters)'


def _safe_text(text: str, font) -> str:
    """Replace characters the font cannot encode (the bitmap fallback font is latin-1 only)."""
    try:
        font.getbbox(text)
        return text
    except UnicodeEncodeError:
        return text.encode('latin-1', 'replace').decode('latin-1')


def draw_referring_overlay(img_rgb: np.ndarray,
                           mask: Optional[np.ndarray],
                           text: str,
                           pred_mask: Optional[np.ndarray] = None,
                           alpha: float = 0.45,
                           min_width: int = 256,
                           gt_color: Sequence[int] = GT_COLOR,
                           pred_color: Sequence[int] = PRED_COLOR,
                           extra_text: Optional[str] = None,
                           max_side: int = 2048) -> np.ndarray:
    """Draw a referring sample: the image, its mask(s) and the expression below it.

    Without ``pred_mask``, the ground-truth ``mask`` is filled translucently in ``gt_color``
    with a solid outline. With ``pred_mask``, the prediction is filled in ``pred_color`` and the
    ground truth is drawn as an outline in ``gt_color`` on top, so both stay visible.
    Images narrower than ``min_width`` are enlarged by an integer factor (nearest neighbour) so
    that the caption stays readable, never beyond ``max_side`` pixels on a side; images larger
    than ``max_side`` are shrunk (nearest neighbour, masks alike) to fit, so the result is
    bounded whatever the input (a 4096x1 strip, an 8000x8000 scene). The caption bar under the
    image holds ``text`` (word-wrapped, Pillow's default font; at most
    :data:`MAX_CAPTION_CHARS` characters and :data:`MAX_CAPTION_LINES` lines, a note says what
    was cut) and an optional second paragraph ``extra_text`` (e.g. ``IoU 0.83``).

    Args:
        img_rgb (np.ndarray): (H, W, 3) uint8 RGB image (a (H, W) grey image is accepted).
        mask (np.ndarray, optional): (H, W) ground truth, nonzero = target.
        text (str): The referring expression.
        pred_mask (np.ndarray, optional): (H, W) prediction, nonzero = target.
        alpha (float): Opacity of the filled mask. Defaults to 0.45.
        min_width (int): Minimum output width in pixels. Defaults to 256.
        gt_color, pred_color (sequence[int]): RGB colours.
        extra_text (str, optional): A further caption line.
        max_side (int): Largest side of the drawn image (before the caption). Defaults to
            2048.

    Returns:
        np.ndarray: (s*H + caption height, s*W, 3) uint8 RGB, with scale
        ``s = max(1, ceil(min_width / W))`` limited so that ``s*H, s*W <= max_side``
        (``s < 1``, a shrink, for larger images).
    """
    img = np.asarray(img_rgb)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f'img_rgb must be (H, W, 3), got shape {img.shape}')
    img = img[..., :3].astype(np.uint8)
    h, w = img.shape[:2]
    gt = _as_mask(mask, (h, w), 'mask')
    pred = _as_mask(pred_mask, (h, w), 'pred_mask')

    if max(h, w) > max_side:  # shrink: take every k-th pixel (nearest), masks alike
        step = -(-max(h, w) // max_side)
        img = img[::step, ::step]
        gt = None if gt is None else gt[::step, ::step]
        pred = None if pred is None else pred[::step, ::step]
        h, w = img.shape[:2]
    scale = max(1, min(-(-min_width // w), max_side // max(h, w)))
    if scale > 1:
        img = np.repeat(np.repeat(img, scale, 0), scale, 1)
        gt = None if gt is None else np.repeat(np.repeat(gt, scale, 0), scale, 1)
        pred = None if pred is None else np.repeat(np.repeat(pred, scale, 0), scale, 1)
    out = img.astype(np.float32)
    thick = max(1, min(out.shape[:2]) // 160)
    fill, fill_color = (pred, pred_color) if pred is not None else (gt, gt_color)
    if fill is not None:
        out[fill] = out[fill] * (1 - alpha) + np.asarray(fill_color, np.float32) * alpha
        if pred is not None:
            out[_contour(pred, thick)] = pred_color
    if gt is not None:
        out[_contour(gt, thick)] = gt_color
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)

    width = max(out.shape[1], min(min_width, max_side))  # room for the caption
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    pad = 4
    caption = _bounded_caption(str(text))
    caption = ' '.join(caption.split())
    paragraphs = [_safe_text(caption or '(empty expression)', font)]
    if extra_text:
        paragraphs.append(_safe_text(_bounded_caption(str(extra_text)), font))
    lines = []
    for para in paragraphs:
        lines += _wrap(para, font, width - 2 * pad, probe)
    if len(lines) > MAX_CAPTION_LINES:
        lines = lines[:MAX_CAPTION_LINES - 1] + [f'... ({len(lines) - MAX_CAPTION_LINES + 1} '
                                                 'more lines)']
    asc_desc = font.getbbox('Hg')
    line_h = asc_desc[3] - min(0, asc_desc[1]) + 3
    bar_h = 2 * pad + line_h * len(lines)
    canvas = Image.new('RGB', (width, out.shape[0] + bar_h), (255, 255, 255))
    canvas.paste(Image.fromarray(out), (0, 0))
    draw = ImageDraw.Draw(canvas)
    y = out.shape[0] + pad
    for line in lines:
        draw.text((pad, y), line, fill=(0, 0, 0), font=font)
        y += line_h
    return np.asarray(canvas)

