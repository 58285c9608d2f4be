# Copyright (c) mmrrsis contributors. All rights reserved.
"""Procedural synthetic RRSIS data set: the embedded default data of mmrrsis.

:func:`generate_synthetic_dataset` draws small aerial-like scenes (numpy only, no downloads)
and writes them in the real on-disk formats, so that the ordinary dataset classes read them:

- RefSegRS (always available): ``images/<id>.tif`` (RGB), ``masks/<id>.tif`` (one channel,
  0/255) and ``output_phrase_{train,val,test}.txt`` (``<id> <expression>`` per line).
- RRSIS-D / REFER (optional, needs pycocotools): ``rrsisd/refs(unc).p``,
  ``rrsisd/instances.json`` (annotations keyed ``categories_id`` as in RRSIS-D, one compressed
  RLE per annotation) and ``images/rrsisd/JPEGImages/<5-digit id>.jpg``.
- RISBench, NWPU-Refer (with multi- and no-target expressions) and RSRefSeg2's jsonl in
  sub-folders (see ``formats`` of :func:`generate_synthetic_dataset`), so that every loader is
  tested on its real format.

Every sample id has its own image file, as in both real data sets: the samples of one scene
share the picture through hard links (copies where the file system has none). As in RRSIS-D,
``ref_id == image_id == ann_id == sent_id`` and each ref has one sentence.

Scenes. A textured terrain (grass and soil tones) carries, without overlaps except vehicles on
roads, objects of the categories below. Scenes are built so that the same category appears
several times (one or two "focus" categories get 2-5 instances), hence an expression has to be
read to find the target. Each scene gives several samples (``samples_per_image``) with
different targets, so the same picture appears with different expressions and different masks:
a model that ignores the text cannot score well.

==============  ====================  ===============================  =======================
category        colours (attribute)   drawn as                         real-data name
==============  ====================  ===============================  =======================
road            -- (orientation)      grey strip, kerbs, dashed line   RefSegRS ``road``
vehicle         red blue white        small rectangle with windows;    RefSegRS / RRSIS-D
                black yellow          cars and larger trucks           ``vehicle``
building        red grey blue white   rectangle roof with a ridge      RefSegRS ``building``
                brown                 shade, cast shadow
storage tank    white grey            disc with rim, cast shadow       RRSIS-D ``storagetank``
tree            --                    clump of green discs, shadow     RefSegRS ``tree``
field           green brown yellow    rectangle with crop rows         RefSegRS ``low
                                                                       vegetation``
pond            --                    blue blob                        (none)
==============  ====================  ===============================  =======================

The synthetic names are used as they are (in ``instances.json`` categories and ``samples.json``);
:data:`CATEGORY_ALIASES` records the real-data names above and :data:`CATEGORY_WORDS` the nouns
expressions use per category (the first one in an expression is always the target's).

Expressions combine the category noun with attributes: colour, size (``small``/``large``,
relative to the other instances of the category), orientation (roads), absolute position
(``on the left``, ``at the top``, ``in the upper left``, ``in the center`` ...) and a relation to
an object whose category occurs once in the scene (``next to the pond``, ``on the road``,
``to the left of the building``, ``above the road`` ...). Truth and uniqueness are checked
programmatically and conservatively: every attribute holds for the target with a margin
(e.g. ``left``: centroid in the left 40 %), and every other instance of the target's category is
ruled out by at least one attribute with a margin (e.g. its centroid lies in the right half).
Size words need a 1.7x area ratio to every other instance. Masks are the visible pixels of the
target as drawn (computed from an instance-id map, so occlusion by vehicles is accounted for).

Determinism: everything is drawn from ``numpy.random.Generator`` objects seeded from ``seed``
(scene ``i`` from ``SeedSequence(seed, spawn_key=(0, i))``), no global random state; the same
arguments give byte-identical files. ``meta.json`` is written last; a directory without it is an
incomplete set.

Besides the formats, ``samples.json`` lists per sample the scene, split, category, the attribute
kinds the expression uses and the mask area (for analyses such as per-attribute accuracy).
"""
import json
import os
import os.path as osp
import pickle
import shutil
import time
from dataclasses import dataclass, field
from itertools import combinations
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from mmrrsis.utils.text import SYNTH_CATEGORY_WORDS

#: Bump when the drawing or the expressions change (changes the files for a given seed).
SYNTHETIC_VERSION = '1.0'
META_FILE = 'meta.json'
SAMPLES_FILE = 'samples.json'
SPLITS = ('train', 'val', 'test')
FORMATS = ('refsegrs', 'rrsisd', 'risbench', 'nwpu', 'jsonl')
#: ``'standard'``: the demo set; ``'hard'``: the challenges BTDNet's abstract names (see
#: :func:`generate_synthetic_dataset`).
DIFFICULTIES = ('standard', 'hard')


#: Synthetic category vocabulary; the index is the RRSIS-D-style category id.
CATEGORIES: Tuple[str, ...] = ('road', 'vehicle', 'building', 'storage tank', 'tree', 'field',
                               'pond')
#: Names of the synthetic categories in the real data sets (absent: no counterpart).
CATEGORY_ALIASES: Dict[str, Dict[str, str]] = {
    'road': {'refsegrs': 'road'},
    'vehicle': {'refsegrs': 'vehicle', 'rrsisd': 'vehicle'},
    'building': {'refsegrs': 'building'},
    'storage tank': {'rrsisd': 'storagetank'},
    'tree': {'refsegrs': 'tree'},
    'field': {'refsegrs': 'low vegetation'},
    'pond': {},
}

# Colour vocabularies (RGB) per category; names are the attribute words.
_VEHICLE_COLOURS = {'red': (200, 35, 30), 'blue': (35, 70, 200), 'white': (238, 238, 235),
                    'black': (22, 22, 26), 'yellow': (232, 200, 35)}
_ROOF_COLOURS = {'red': (175, 55, 42), 'grey': (150, 150, 152), 'blue': (60, 95, 170),
                 'white': (228, 228, 222), 'brown': (115, 75, 45)}
_TANK_COLOURS = {'white': (232, 232, 230), 'grey': (150, 152, 158)}
_FIELD_COLOURS = {'green': (62, 135, 40), 'brown': (128, 88, 52), 'yellow': (205, 185, 85)}

_NOUNS = {
    'road': ('road', 'street'),
    'car': ('vehicle', 'car'),
    'truck': ('vehicle', 'truck'),
    'building': ('building', 'house'),
    'storage tank': ('storage tank', 'tank', 'oil tank'),
    'tree': ('tree', ),
    'field': ('field', 'farmland'),
    'pond': ('pond', 'lake'),
}
#: The nouns an expression may use for each category (see ``SYNTH_CATEGORY_WORDS``).
CATEGORY_WORDS = SYNTH_CATEGORY_WORDS

# Absolute positions: (phrases, strict test for the target, loose test; an other instance is
# ruled out only when the loose test fails). Coordinates are the centroid in [0, 1].
_ZONES = (
    (('on the left', 'on the left side'), lambda x, y: x < 0.4, lambda x, y: x < 0.5),
    (('on the right', 'on the right side'), lambda x, y: x > 0.6, lambda x, y: x > 0.5),
    (('at the top', 'in the upper part'), lambda x, y: y < 0.4, lambda x, y: y < 0.5),
    (('at the bottom', 'in the lower part'), lambda x, y: y > 0.6, lambda x, y: y > 0.5),
    (('in the upper left', 'in the top left corner'), lambda x, y: x < 0.4 and y < 0.4,
     lambda x, y: x < 0.5 and y < 0.5),
    (('in the upper right', 'in the top right corner'), lambda x, y: x > 0.6 and y < 0.4,
     lambda x, y: x > 0.5 and y < 0.5),
    (('in the lower left', 'in the bottom left corner'), lambda x, y: x < 0.4 and y > 0.6,
     lambda x, y: x < 0.5 and y > 0.5),
    (('in the lower right', 'in the bottom right corner'), lambda x, y: x > 0.6 and y > 0.6,
     lambda x, y: x > 0.5 and y > 0.5),
    (('in the center', 'in the middle'), lambda x, y: max(abs(x - .5), abs(y - .5)) < 0.15,
     lambda x, y: max(abs(x - .5), abs(y - .5)) < 0.25),
)
_SIZE_RATIO = 1.7
# Number of instances of the focus / other categories per scene (inclusive ranges).
_FOCUS_COUNTS = {'vehicle': (2, 5), 'building': (2, 4), 'storage tank': (2, 4), 'tree': (2, 5),
                 'field': (2, 3), 'pond': (2, 2)}
_OTHER_COUNTS = {'vehicle': (0, 3), 'building': (0, 3), 'storage tank': (0, 2), 'tree': (0, 3),
                 'field': (0, 2), 'pond': (0, 1)}
_FOCUS_P = {'vehicle': .25, 'building': .25, 'storage tank': .15, 'tree': .15, 'field': .1,
            'pond': .1}


@dataclass
class _Obj:
    category: str
    kind: str = ''  # noun key: 'car' / 'truck' for vehicles, else the category
    colour: Optional[str] = None
    orientation: Optional[str] = None  # roads: 'horizontal' / 'vertical'
    road: Optional['_Obj'] = None  # vehicles: the road they drive on
    oid: int = 0
    drawn_area: int = 0
    # visible geometry, filled by _Scene.finalize()
    mask: Optional[np.ndarray] = field(default=None, repr=False)
    area: int = 0
    bbox: Tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 (end exclusive)
    cx: float = 0.  # centroid, fraction of the image size
    cy: float = 0.


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Smooth (smoothstep-bilinear) upsampling of a square grid to (size, size)."""
    n = grid.shape[0] - 1
    t = (np.arange(size) + 0.5) * (n / size)
    i = np.minimum(t.astype(np.int64), n - 1)
    f = t - i
    f = f * f * (3 - 2 * f)
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    return _upsample(rng.random((cells + 1, cells + 1)), size)


def _disc(radius: float) -> np.ndarray:
    d = int(np.ceil(2 * radius)) | 1
    c = (d - 1) / 2
    yy, xx = np.mgrid[:d, :d]
    return (yy - c) ** 2 + (xx - c) ** 2 <= radius ** 2 + 0.25


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square (Chebyshev) dilation of a bool mask by ``r`` pixels via an integral image."""
    h, w = mask.shape
    ii = np.zeros((h + 1, w + 1), np.int32)
    ii[1:, 1:] = mask.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    y0 = np.clip(np.arange(h) - r, 0, h)
    y1 = np.clip(np.arange(h) + r + 1, 0, h)
    x0 = np.clip(np.arange(w) - r, 0, w)
    x1 = np.clip(np.arange(w) + r + 1, 0, w)
    s = ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]
    return s > 0


class _Scene:
    """One procedurally drawn scene: an RGB canvas, an instance-id map and the objects."""

    def __init__(self, rng: np.random.Generator, size: int, hard: bool = False):
        self.rng, self.S, self.hard = rng, size, hard
        self.ids = np.zeros((size, size), np.int16)
        self.occ = np.zeros((size, size), bool)  # reserved space (objects, shadows, margins)
        self.veh_occ = np.zeros((size, size), bool)
        self.objects: List[_Obj] = []
        self.img = self._terrain()

    def px(self, frac: float, minimum: int = 1) -> int:
        return max(minimum, int(round(frac * self.S)))

    # ----------------------------------------------------------------- canvas helpers
    def _terrain(self) -> np.ndarray:
        rng, S = self.rng, self.S
        t = np.clip(0.65 * _noise(rng, S, 3) + 0.35 * _noise(rng, S, 9) - 0.05, 0, 1)
        grass = np.array([104, 134, 74]) * rng.uniform(0.9, 1.08)
        soil = np.array([168, 148, 112]) * rng.uniform(0.92, 1.05)
        img = grass * (1 - t[..., None]) + soil * t[..., None]
        img *= (0.9 + 0.2 * _noise(rng, S, max(2, S // 6)))[..., None]
        img += rng.normal(0, 4, (S, S, 1)) + rng.normal(0, 2.5, (S, S, 3))
        return img.astype(np.float32)

    def _textured(self, shape: Tuple[int, int], rgb, jitter: float = 0.06,
                  sigma: float = 4.) -> np.ndarray:
        base = np.asarray(rgb, np.float32) * self.rng.uniform(1 - jitter, 1 + jitter)
        return base + self.rng.normal(0, sigma, (*shape, 1)).astype(np.float32)

    def free(self, y0: int, x0: int, h: int, w: int, margin: int = 1,
             occ: Optional[np.ndarray] = None) -> bool:
        if y0 < 0 or x0 < 0 or y0 + h > self.S or x0 + w > self.S:
            return False
        occ = self.occ if occ is None else occ
        return not occ[max(0, y0 - margin):y0 + h + margin,
                       max(0, x0 - margin):x0 + w + margin].any()

    def reserve(self, y0: int, x0: int, h: int, w: int, margin: int = 1,
                occ: Optional[np.ndarray] = None):
        occ = self.occ if occ is None else occ
        occ[max(0, y0 - margin):y0 + h + margin, max(0, x0 - margin):x0 + w + margin] = True

    def find_spot(self, h: int, w: int, margin: int = 1, tries: int = 30,
                  around: Optional[Tuple[float, float, float]] = None):
        """A free top-left corner for an (h, w) box, or None."""
        rng, S = self.rng, self.S
        if h > S or w > S:
            return None
        for _ in range(tries):
            if around is None:
                y0, x0 = int(rng.integers(0, S - h + 1)), int(rng.integers(0, S - w + 1))
            else:
                cy, cx, r = around
                y0 = int(round(cy + rng.uniform(-r, r) - h / 2))
                x0 = int(round(cx + rng.uniform(-r, r) - w / 2))
            if self.free(y0, x0, h, w, margin):
                return y0, x0
        return None

    def paint(self, obj: _Obj, y0: int, x0: int, mask: np.ndarray, colour: np.ndarray):
        """Draw ``colour`` (h, w, 3) where ``mask`` (h, w) is set and register ``obj``."""
        h, w = mask.shape
        obj.oid = len(self.objects) + 1
        obj.kind = obj.kind or obj.category
        win = (slice(y0, y0 + h), slice(x0, x0 + w))
        self.img[win][mask] = colour[mask]
        self.ids[win][mask] = obj.oid
        obj.drawn_area = int(mask.sum())
        self.objects.append(obj)

    def shadow(self, y0: int, x0: int, mask: np.ndarray, factor: float = 0.6):
        """Darken the terrain (only) under a shifted copy of ``mask``."""
        h, w = mask.shape
        ya, xa = max(0, y0), max(0, x0)
        yb, xb = min(self.S, y0 + h), min(self.S, x0 + w)
        if ya >= yb or xa >= xb:
            return
        m = mask[ya - y0:yb - y0, xa - x0:xb - x0] & (self.ids[ya:yb, xa:xb] == 0)
        self.img[ya:yb, xa:xb][m] *= factor

    # ----------------------------------------------------------------- objects
    def add_roads(self, n: int):
        rng, S = self.rng, self.S
        if n == 0:
            return
        w = self.px(rng.uniform(0.07, 0.1), 4)
        first = 'horizontal' if rng.random() < 0.5 else 'vertical'
        p1 = int(np.clip(round(rng.uniform(0.15, 0.85) * S - w / 2), 0, S - w))
        self._road(first, p1, 0, S, w)
        if n < 2:
            return
        if rng.random() < 0.5:  # a parallel road
            for _ in range(20):
                p2 = int(np.clip(round(rng.uniform(0.1, 0.9) * S - w / 2), 0, S - w))
                if abs(p2 - p1) >= 0.3 * S:
                    self._road(first, p2, 0, S, w)
                    return
        # a T-junction: a perpendicular road from the first road's edge to a border
        second = 'vertical' if first == 'horizontal' else 'horizontal'
        before, after = p1, S - p1 - w
        if max(before, after) < 0.25 * S:
            return
        start, end = (0, p1) if before >= after else (p1 + w, S)
        p2 = int(np.clip(round(rng.uniform(0.15, 0.85) * S - w / 2), 0, S - w))
        self._road(second, p2, start, end, w)

    def _road(self, orientation: str, pos: int, start: int, end: int, w: int):
        """A road ``w`` wide at ``pos`` across the other axis, from ``start`` to ``end``."""
        rng = self.rng
        length = end - start
        mask = np.ones((w, length), bool)
        grey = rng.uniform(95, 125)
        col = self._textured((w, length), (grey, grey, grey * 1.03), jitter=0.0, sigma=3.)
        if w >= 6:  # kerbs
            col[0] = col[-1] = grey * 1.35
        if w >= 5:  # dashed centre line
            dash, gap = self.px(0.05, 2), self.px(0.035, 2)
            on = ((np.arange(length) + int(rng.integers(0, dash + gap))) % (dash + gap)) < dash
            line = (225, 225, 215) if rng.random() < 0.6 else (225, 190, 60)
            col[w // 2, on] = line
        obj = _Obj('road', orientation=orientation)
        if orientation == 'horizontal':
            y0, x0 = pos, start
        else:
            mask, col = mask.T, col.transpose(1, 0, 2)
            y0, x0 = start, pos
        h, ww = mask.shape
        self.paint(obj, y0, x0, mask, col)
        obj.bbox = (x0, y0, x0 + ww, y0 + h)
        self.reserve(y0, x0, h, ww, margin=1)

    def add_vehicle(self, on_road_p: float = 0.75, around=None):
        rng = self.rng
        truck = rng.random() < 0.3
        scale = 0.8 if self.hard else 1.0  # hard set: smaller vehicles
        length = self.px(scale * (0.1 if truck else 0.06), 6 if truck else 4)
        width = self.px(scale * (0.042 if truck else 0.032), 3 if truck else 2)
        colour = str(rng.choice(list(_VEHICLE_COLOURS)))
        roads = [o for o in self.objects if o.category == 'road']
        spot, road = None, None
        if roads and rng.random() < on_road_p:
            road = roads[int(rng.integers(len(roads)))]
            spot = self._road_spot(road, length, width)
        if spot is not None:
            horizontal = road.orientation == 'horizontal'
        else:
            road, horizontal = None, bool(rng.random() < 0.5)
            h, w = (width, length) if horizontal else (length, width)
            spot = self.find_spot(h, w, margin=1, around=around)
            if spot is None:
                return
            self.reserve(*spot, h, w, margin=1)
        h, w = (width, length) if horizontal else (length, width)
        col = self._textured((width, length), _VEHICLE_COLOURS[colour], jitter=0.05, sigma=5.)
        windows = (95, 105, 115) if colour == 'black' else (45, 55, 65)
        if truck:
            cab = max(1, length // 4)
            col[:, cab:cab + 1] = windows  # gap between cab and cargo
            col[:, cab + 1:] *= 0.92
        else:
            a = max(1, length // 4)
            col[:, a:a + max(1, length // 5)] = windows
        if rng.random() < 0.5:  # driving direction
            col = col[:, ::-1]
        mask = np.ones((width, length), bool)
        if not horizontal:
            mask, col = mask.T, col.transpose(1, 0, 2)
        obj = _Obj('vehicle', kind='truck' if truck else 'car', colour=colour, road=road)
        self.paint(obj, spot[0], spot[1], mask, np.ascontiguousarray(col))
        self.reserve(*spot, h, w, margin=1, occ=self.veh_occ)

    def _road_spot(self, road: _Obj, length: int, width: int):
        rng = self.rng
        x0r, y0r, x1r, y1r = road.bbox  # as drawn
        horizontal = road.orientation == 'horizontal'
        across0, across1 = (y0r, y1r) if horizontal else (x0r, x1r)
        along0, along1 = (x0r, x1r) if horizontal else (y0r, y1r)
        rw = across1 - across0
        if along1 - along0 < length + 2:
            return None
        for _ in range(20):
            lane = rw / 4 if rng.random() < 0.5 else 3 * rw / 4
            a0 = int(np.clip(round(across0 + lane - width / 2), across0, across1 - width))
            b0 = int(rng.integers(along0, along1 - length + 1))
            y0, x0, h, w = (a0, b0, width, length) if horizontal else (b0, a0, length, width)
            if self.free(y0, x0, h, w, margin=1, occ=self.veh_occ):
                return y0, x0
        return None

    def add_building(self):
        rng = self.rng
        h, w = self.px(rng.uniform(0.07, 0.2), 3), self.px(rng.uniform(0.07, 0.2), 3)
        s = self.px(0.02)
        spot = self.find_spot(h + s, w + s, margin=1)
        if spot is None:
            return
        y0, x0 = spot
        self.reserve(y0, x0, h + s, w + s, margin=1)
        mask = np.ones((h, w), bool)
        self.shadow(y0 + s, x0 + s, mask, 0.55)
        colour = str(rng.choice(list(_ROOF_COLOURS)))
        col = self._textured((h, w), _ROOF_COLOURS[colour], jitter=0.05, sigma=3.)
        if w >= h:
            col[h // 2:] *= 0.82
        else:
            col[:, w // 2:] *= 0.82
        self.paint(_Obj('building', colour=colour), y0, x0, mask, col)

    def add_tank(self, around=None):
        rng = self.rng
        r = max(1.6, rng.uniform(0.028, 0.06) * self.S)
        mask = _disc(r)
        d = mask.shape[0]
        s = self.px(0.015)
        spot = self.find_spot(d + s, d + s, margin=1, around=around)
        if spot is None:
            return
        y0, x0 = spot
        self.reserve(y0, x0, d + s, d + s, margin=1)
        self.shadow(y0 + s, x0 + s, mask, 0.55)
        colour = str(rng.choice(list(_TANK_COLOURS)))
        col = self._textured((d, d), _TANK_COLOURS[colour], jitter=0.03, sigma=2.5)
        c = (d - 1) / 2
        yy, xx = np.mgrid[:d, :d]
        dist = np.sqrt((yy - c) ** 2 + (xx - c) ** 2)
        col[dist > r - 1.2] *= 0.8
        col[np.abs(dist - 0.55 * r) < 0.5] *= 0.9
        self.paint(_Obj('storage tank', colour=colour), y0, x0, mask, col)

    def add_tree(self, around=None):
        rng, S = self.rng, self.S
        rho = max(1.5, rng.uniform(0.022, 0.04) * S)
        k = int(rng.integers(2, 5))
        offs = rng.uniform(-rho, rho, (k, 2))
        radii = rho * rng.uniform(0.7, 1.0, k)
        half = int(np.ceil(np.abs(offs).max() + radii.max())) + 1
        d = 2 * half + 1
        yy, xx = np.mgrid[:d, :d] - half
        mask = np.zeros((d, d), bool)
        for (oy, ox), rr in zip(offs, radii):
            mask |= (yy - oy) ** 2 + (xx - ox) ** 2 <= rr ** 2
        s = self.px(0.015)
        spot = self.find_spot(d + s, d + s, margin=1, around=around)
        if spot is None:
            return
        y0, x0 = spot
        self.reserve(y0, x0, d + s, d + s, margin=1)
        self.shadow(y0 + s, x0 + s, mask, 0.6)
        col = self._textured((d, d), (34, 88, 36), jitter=0.1, sigma=7.)
        col[(yy + xx) < -half * 0.4] *= 1.25  # lit side
        self.paint(_Obj('tree'), y0, x0, mask, col)

    def add_field(self):
        rng = self.rng
        h, w = self.px(rng.uniform(0.14, 0.3), 5), self.px(rng.uniform(0.14, 0.3), 5)
        spot = self.find_spot(h, w, margin=2)
        if spot is None:
            return
        y0, x0 = spot
        self.reserve(y0, x0, h, w, margin=2)
        colour = str(rng.choice(list(_FIELD_COLOURS)))
        col = self._textured((h, w), _FIELD_COLOURS[colour], jitter=0.05, sigma=3.)
        period = int(rng.integers(2, 5))
        rows = (np.arange(h) if rng.random() < 0.5 else np.arange(w)) % period == 0
        if rows.shape[0] == h:
            col[rows] *= 0.86
        else:
            col[:, rows] *= 0.86
        self.paint(_Obj('field', colour=colour), y0, x0, np.ones((h, w), bool), col)

    def add_pond(self):
        rng, S = self.rng, self.S
        k = int(rng.integers(2, 5))
        radii = rng.uniform(0.045, 0.1, (k, 2)) * S
        offs = rng.uniform(-0.6, 0.6, (k, 2)) * radii.mean()
        half = int(np.ceil(np.abs(offs).max() + radii.max())) + 1
        d = 2 * half + 1
        yy, xx = np.mgrid[:d, :d] - half
        q = np.full((d, d), np.inf)
        for (oy, ox), (ry, rx) in zip(offs, radii):
            q = np.minimum(q, ((yy - oy) / ry) ** 2 + ((xx - ox) / rx) ** 2)
        mask = q <= 1
        spot = self.find_spot(d, d, margin=2)
        if spot is None:
            return
        y0, x0 = spot
        self.reserve(y0, x0, d, d, margin=2)
        deep = np.array([32, 66, 122], np.float32)
        edge = np.array([70, 112, 150], np.float32)
        t = np.clip(q, 0, 1)[..., None].astype(np.float32)
        col = deep * (1 - t) + edge * t + rng.normal(0, 2.5, (d, d, 1)).astype(np.float32)
        self.paint(_Obj('pond'), y0, x0, mask, col)

    def add_clutter(self, n: int):
        """Unlabelled background patches in object colours and textures (hard set): roof-,
        vehicle- and tank-coloured rectangles and discs that are not objects."""
        rng = self.rng
        palette = [c for pal in (_VEHICLE_COLOURS, _ROOF_COLOURS, _TANK_COLOURS)
                   for c in pal.values()]
        for _ in range(n):
            h, w = self.px(rng.uniform(0.03, 0.12), 2), self.px(rng.uniform(0.03, 0.12), 2)
            y0, x0 = int(rng.integers(0, self.S - h + 1)), int(rng.integers(0, self.S - w + 1))
            mask = (_disc(min(h, w) / 2)[:h, :w] if rng.random() < 0.4 else
                    np.ones((h, w), bool))
            mask = np.pad(mask, ((0, h - mask.shape[0]), (0, w - mask.shape[1])))
            col = self._textured((h, w), palette[int(rng.integers(len(palette)))],
                                 jitter=0.08, sigma=5.)
            win = (slice(y0, y0 + h), slice(x0, x0 + w))
            self.img[win][mask] = col[mask]

    def degrade(self):
        """Blurred, low-contrast edges (hard set): a 3x3 box blur and a contrast cut
        towards the image mean; masks are unchanged."""
        img = self.img
        for _ in range(1):
            pad = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode='edge')
            img = sum(pad[dy:dy + self.S, dx:dx + self.S] for dy in range(3)
                      for dx in range(3)) / 9.0
        mean = img.mean(axis=(0, 1), keepdims=True)
        self.img = (mean + 0.75 * (img - mean)).astype(np.float32)

    # ----------------------------------------------------------------- composition
    def compose(self):
        rng = self.rng
        cats = list(_FOCUS_P)
        focus = set(rng.choice(cats, size=2, replace=False, p=list(_FOCUS_P.values())))
        counts = {c: int(rng.integers(lo, hi + 1)) for c, (lo, hi) in
                  ((c, _FOCUS_COUNTS[c] if c in focus else _OTHER_COUNTS[c]) for c in cats)}
        if self.hard:  # more small objects, clutter painted first (objects cover it)
            counts['vehicle'] += int(rng.integers(1, 4))
            counts['tree'] += int(rng.integers(0, 3))
        self.add_roads(int(rng.choice(3, p=[0.15, 0.55, 0.3])))
        if self.hard:
            self.add_clutter(int(rng.integers(3, 7)))
        for _ in range(counts['field']):
            self.add_field()
        for _ in range(counts['pond']):
            self.add_pond()
        for _ in range(counts['building']):
            self.add_building()
        S = self.S
        if counts['storage tank']:
            around = (rng.uniform(0.25, 0.75) * S, rng.uniform(0.25, 0.75) * S, 0.3 * S)
            for _ in range(counts['storage tank']):
                self.add_tank(around if rng.random() < 0.7 else None)
        for _ in range(counts['tree']):
            self.add_tree()
        if self.hard:  # clustered same-category vehicles (a parking area) besides road ones
            S = self.S
            lot = (rng.uniform(0.2, 0.8) * S, rng.uniform(0.2, 0.8) * S, 0.12 * S)
            for _ in range(counts['vehicle']):
                self.add_vehicle(on_road_p=0.4, around=lot if rng.random() < 0.6 else None)
            return
        for _ in range(counts['vehicle']):
            self.add_vehicle()

    def finalize(self) -> np.ndarray:
        """Visible geometry of every object; returns the uint8 RGB image."""
        S = self.S
        visible = []
        for obj in self.objects:
            m = self.ids == obj.oid
            ys, xs = np.nonzero(m)
            if ys.size == 0:
                continue
            obj.mask, obj.area = m, int(ys.size)
            obj.bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            obj.cx, obj.cy = float(xs.mean() + 0.5) / S, float(ys.mean() + 0.5) / S
            visible.append(obj)
        self.objects = visible
        return np.clip(np.rint(self.img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------- expressions
@dataclass
class _Attr:
    kind: str  # 'colour', 'size', 'orientation', 'position', 'relation'
    phrase: str
    excludes: frozenset  # indices of the other instances this attribute rules out


class _Describer:
    """Finds truthful, unique attribute combinations for targets in a finished scene."""

    def __init__(self, scene: _Scene):
        self.scene, self.S = scene, scene.S
        self.near_px = max(2, int(round(0.05 * self.S)))
        self.far_px = max(self.near_px + 3, int(round(0.15 * self.S)))
        cats = [o.category for o in scene.objects]
        # relation anchors: objects whose category occurs once (so "the pond" is unambiguous)
        self.anchors = [o for o in scene.objects if cats.count(o.category) == 1
                        and o.category != 'vehicle' and o.area >= 6]
        self._dil: Dict[Tuple[int, int], np.ndarray] = {}

    def _near(self, anchor: _Obj, obj: _Obj, r: int) -> bool:
        key = (anchor.oid, r)
        if key not in self._dil:
            self._dil[key] = _dilate(anchor.mask, r)
        x0, y0, x1, y1 = obj.bbox
        return bool((self._dil[key][y0:y1, x0:x1] & obj.mask[y0:y1, x0:x1]).any())

    def attributes(self, t: _Obj, others: List[_Obj]) -> List[_Attr]:
        rng, S = self.scene.rng, self.S
        idx = range(len(others))
        attrs = []
        if t.colour is not None:
            attrs.append(_Attr('colour', t.colour,
                               frozenset(i for i in idx if others[i].colour != t.colour)))
        if t.orientation is not None:
            attrs.append(_Attr('orientation', t.orientation, frozenset(
                i for i in idx if others[i].orientation != t.orientation)))
        if others:
            areas = [o.area for o in others]
            if t.area >= _SIZE_RATIO * max(areas):
                attrs.append(_Attr('size', 'large', frozenset(idx)))
            elif t.area * _SIZE_RATIO <= min(areas):
                attrs.append(_Attr('size', 'small', frozenset(idx)))
        for phrases, strict, loose in _ZONES:
            if strict(t.cx, t.cy):
                attrs.append(_Attr('position', str(rng.choice(phrases)), frozenset(
                    i for i in idx if not loose(others[i].cx, others[i].cy))))
        band, reach = 0.1 * S, 0.3 * S
        for a in self.anchors:
            if a.category == t.category:
                continue
            noun = str(rng.choice(_NOUNS[a.kind]))
            if t.category == 'vehicle' and a.category == 'road':
                if t.road is a:
                    attrs.append(_Attr('relation', 'on the ' + noun, frozenset(
                        i for i in idx if others[i].road is not a)))
            elif self._near(a, t, self.near_px):
                attrs.append(_Attr('relation', str(rng.choice(('next to', 'near', 'beside')))
                                   + ' the ' + noun, frozenset(
                                       i for i in idx if not self._near(a, others[i],
                                                                        self.far_px))))
            ax0, ay0, ax1, ay1 = a.bbox
            tx0, ty0, tx1, ty1 = t.bbox
            in_rows = ty0 < ay1 + band and ty1 > ay0 - band
            in_cols = tx0 < ax1 + band and tx1 > ax0 - band
            rel = []
            if in_rows and tx1 <= ax0 and ax0 - tx1 <= reach:
                rel.append(('to the left of', lambda o: o.cx * S >= ax0))
            if in_rows and tx0 >= ax1 and tx0 - ax1 <= reach:
                rel.append(('to the right of', lambda o: o.cx * S <= ax1))
            if in_cols and ty1 <= ay0 and ay0 - ty1 <= reach:
                rel.append(('above', lambda o: o.cy * S >= ay0))
            if in_cols and ty0 >= ay1 and ty0 - ay1 <= reach:
                rel.append(('below', lambda o: o.cy * S <= ay1))
            for word, rules_out in rel:
                attrs.append(_Attr('relation', f'{word} the {noun}', frozenset(
                    i for i in idx if rules_out(others[i]))))
        return attrs

    def options(self, t: _Obj) -> List[Tuple[_Attr, ...]]:
        """Minimal attribute combinations (1 or 2 kinds) that single out ``t``."""
        others = [o for o in self.scene.objects if o.category == t.category and o is not t]
        attrs = self.attributes(t, others)
        need = frozenset(range(len(others)))
        if not others:
            return [()] + [(a,) for a in attrs if a.kind != 'size']
        singles = [(a,) for a in attrs if a.excludes >= need]
        pairs = [(a, b) for a, b in combinations(attrs, 2)
                 if a.kind != b.kind and (a.excludes | b.excludes) >= need
                 and not a.excludes >= need and not b.excludes >= need]
        return singles + pairs

    def phrase(self, t: _Obj, combo: Sequence[_Attr],
               extra: Sequence[_Attr] = ()) -> Tuple[str, List[str]]:
        """The expression of ``combo`` (which singles ``t`` out) plus the true ``extra``
        attributes (hard set: longer, compositional expressions; a second relation is joined
        with "and")."""
        rng = self.scene.rng
        by_kind = {a.kind: a.phrase for a in combo}
        for a in extra:
            if a.kind not in by_kind:
                by_kind[a.kind] = a.phrase
            elif a.kind == 'relation' and ' and ' not in by_kind[a.kind] and \
                    a.phrase != by_kind[a.kind]:
                by_kind[a.kind] += ' and ' + a.phrase
        # now and then a redundant but true colour, so colour words do not imply distractors
        if t.colour is not None and 'colour' not in by_kind and rng.random() < 0.2:
            by_kind['colour'] = t.colour
        words = ['the'] if rng.random() < 0.75 else []
        words += [by_kind[k] for k in ('size', 'colour', 'orientation') if k in by_kind]
        words.append(str(rng.choice(_NOUNS[t.kind])))
        words += [by_kind[k] for k in ('position', 'relation') if k in by_kind]
        kinds = [k for k in ('colour', 'size', 'orientation', 'position', 'relation')
                 if k in by_kind]
        return ' '.join(words), kinds


def _eligible(t: _Obj, S: int) -> bool:
    min_area = max(4, int(0.0004 * S * S))
    return t.area >= min_area and t.area >= 0.6 * t.drawn_area


def _make_scene(rng: np.random.Generator, size: int, samples: Tuple[int, int],
                hard: bool = False, scene_objects: Optional[list] = None):
    """Draw scenes until one has a describable target; return (image, [sample dicts]).
    ``scene_objects`` (a list) receives the scene's visible objects."""
    scene_objects = [] if scene_objects is None else scene_objects
    for _ in range(20):
        scene = _Scene(rng, size, hard=hard)
        scene.compose()
        if hard:
            scene.degrade()
        img = scene.finalize()
        desc = _Describer(scene)
        cands = []
        for t in scene.objects:
            if not _eligible(t, size):
                continue
            opts = desc.options(t)
            if opts:
                cands.append((t, opts))
        if not cands:
            continue
        k = min(int(rng.integers(samples[0], samples[1] + 1)), len(cands))
        weights = np.array([(0.5 if t.category == 'road' else 1.0) *
                            (3.0 if any(o.category == t.category and o is not t
                                        for o in scene.objects) else 1.0)
                            for t, _ in cands])
        out = []
        used_cats = set()
        for _ in range(k):
            w = weights * np.array([0.35 if t.category in used_cats else 1.0 for t, _ in cands])
            j = int(rng.choice(len(cands), p=w / w.sum()))
            t, opts = cands[j]
            weights[j] = 0.
            used_cats.add(t.category)
            # pick a kind signature uniformly, then a combination of that signature
            sigs = sorted({tuple(a.kind for a in c) for c in opts})
            sig = sigs[int(rng.integers(len(sigs)))]
            same = [c for c in opts if tuple(a.kind for a in c) == sig]
            combo = same[int(rng.integers(len(same)))]
            extra = ()
            if hard:  # up to two more true attributes (position, relations, colour)
                others = [o for o in scene.objects if o.category == t.category and o is not t]
                pool = [a for a in desc.attributes(t, others)
                        if a.kind != 'size' and a not in combo]
                order = rng.permutation(len(pool))
                extra = tuple(pool[i] for i in order[:int(rng.integers(1, 3))])
            text, kinds = desc.phrase(t, combo, extra)
            out.append(dict(text=text, mask=t.mask, category=t.category, attributes=kinds,
                            area=t.area, bbox=list(t.bbox)))
            if weights.sum() == 0:
                break
        scene_objects.clear()
        scene_objects.extend(scene.objects)
        return img, out
    raise RuntimeError('could not draw a scene with a describable object (image_size too small?)')


def _nwpu_extra(rng: np.random.Generator, objects: List[_Obj]) -> List[dict]:
    """NWPU-Refer-style extra expressions of a scene: one multi-target expression (every
    instance of a category that occurs at least twice, e.g. "all the trees") and one
    no-target expression (a category absent from the scene), when the scene allows them."""
    out = []
    cats = sorted({o.category for o in objects})
    multi = [c for c in cats if c != 'road' and
             sum(o.category == c and o.area >= 4 for o in objects) >= 2]
    if multi:
        c = multi[int(rng.integers(len(multi)))]
        members = [o for o in objects if o.category == c and o.area >= 4]
        noun = str(rng.choice(_NOUNS[members[0].kind]))
        plural = noun + ('es' if noun.endswith(('s', 'sh', 'ch')) else 's')
        out.append(dict(text=f'all the {plural}', objects=members, category=c))
    absent = [c for c in CATEGORIES if c not in cats]
    if absent:
        c = absent[int(rng.integers(len(absent)))]
        noun = str(rng.choice(_NOUNS[c if c in _NOUNS else 'car']))
        out.append(dict(text=f'the {noun} in the image', objects=[], category=c))
    return out


def _mask_polygons(mask: np.ndarray) -> Optional[List[List[float]]]:
    """Outer contours of a mask as COCO polygons (None if a part is too small to be one)."""
    import cv2
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    polys = []
    for c in contours:
        if len(c) < 3:
            return None
        polys.append([float(v) + 0.5 for v in c.reshape(-1)])  # pixel centres
    return polys or None


# --------------------------------------------------------------------- writing
def _split_counts(num_images: Optional[int],
                  split_ratio: Sequence[Union[int, float]]) -> Tuple[int, int, int]:
    if len(split_ratio) != 3:
        raise ValueError(f'split_ratio needs 3 values (train, val, test), got {split_ratio!r}')
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in split_ratio):
        counts = tuple(int(v) for v in split_ratio)
        if min(counts) < 0 or (num_images is not None and sum(counts) != num_images):
            raise ValueError(f'split counts {counts} must be >= 0 and sum to num_images='
                             f'{num_images}')
        return counts
    ratio = np.asarray(split_ratio, float)
    if (ratio < 0).any() or ratio.sum() <= 0:
        raise ValueError(f'invalid split_ratio {split_ratio!r}')
    n = 1000 if num_images is None else int(num_images)
    ratio = ratio / ratio.sum()
    n_val, n_test = int(round(ratio[1] * n)), int(round(ratio[2] * n))
    if n >= 3:  # keep every split with a positive ratio non-empty
        n_val = max(n_val, int(ratio[1] > 0))
        n_test = max(n_test, int(ratio[2] > 0))
    n_val, n_test = min(n_val, n), min(n_test, n - min(n_val, n))
    return n - n_val - n_test, n_val, n_test


def _owned_paths(out_dir: str) -> List[str]:
    names = [META_FILE, SAMPLES_FILE, 'images', 'masks', 'rrsisd', 'risbench', 'nwpu', 'jsonl']
    names += [f'output_phrase_{s}.txt' for s in SPLITS]
    return [osp.join(out_dir, n) for n in names]


def load_synthetic_meta(out_dir: str) -> Optional[dict]:
    """The ``meta.json`` of a complete synthetic set in ``out_dir``, or None."""
    try:
        with open(osp.join(out_dir, META_FILE)) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get('complete') else None


def _link_or_copy(src: str, dst: str):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _rle_dict(mask: np.ndarray, mask_utils) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('ascii'))


def _write_nwpu_scene(root: str, scene_idx: int, split: str, img: np.ndarray,
                      samples: List[dict], objects: List[_Obj], rng: np.random.Generator,
                      refs: list, images: list, anns: list, mask_utils) -> None:
    """One scene in NWPU-Refer's layout: one image, one polygon annotation per object used,
    one ref per (object, sentence); the scene's samples plus a multi-target and a no-target
    expression (:func:`_nwpu_extra`)."""
    S = img.shape[0]
    image_id = scene_idx
    file_name = f'{scene_idx:06d}.jpg'
    Image.fromarray(img).save(osp.join(root, 'image', 'image', file_name), quality=95,
                              subsampling=0)
    images.append(dict(file_name=file_name, height=S, width=S, id=image_id))
    ann_of: Dict[int, int] = {}

    def ann_id(mask: np.ndarray, category: str) -> int:
        key = id(mask)
        if key not in ann_of:
            polys = _mask_polygons(mask)
            seg = polys if polys is not None else [_rle_dict(mask, mask_utils)]
            aid = len(anns)
            ys, xs = np.nonzero(mask)
            anns.append(dict(id=aid, image_id=image_id, category_id=CATEGORIES.index(category),
                             segmentation=seg, bbox=[int(xs.min()), int(ys.min()),
                                                     int(xs.max() - xs.min() + 1),
                                                     int(ys.max() - ys.min() + 1)],
                             area=int(mask.sum())))
            ann_of[key] = aid
        return ann_of[key]

    def add_ref(aid, category: str, text: str):
        rid = len(refs)
        refs.append(dict(ref_id=rid, image_id=image_id, ann_id=aid, split=split,
                         file_name=file_name, category_id=CATEGORIES.index(category),
                         sent_ids=[rid], sentences=[dict(raw=text, sent=text, sent_id=rid,
                                                         tokens=text.lower().split())]))

    for s in samples:
        add_ref(ann_id(s['mask'], s['category']), s['category'], ' '.join(s['text'].split()))
    for extra in _nwpu_extra(rng, objects):
        if not extra['objects']:
            add_ref(-1, extra['category'], extra['text'])
        for o in extra['objects']:  # one ref per object, the same sentence
            add_ref(ann_id(o.mask, o.category), o.category, extra['text'])


def generate_synthetic_dataset(out_dir: str,
                               num_images: Optional[int] = None,
                               image_size: int = 128,
                               seed: int = 0,
                               split_ratio: Sequence[Union[int, float]] = (0.7, 0.1, 0.2),
                               formats: Sequence[str] = ('refsegrs', ),
                               samples_per_image: Union[int, Tuple[int, int]] = (2, 4),
                               overwrite: bool = False,
                               progress: bool = True,
                               difficulty: str = 'standard') -> dict:
    """Generate the synthetic RRSIS data set (see the module docstring).

    Args:
        out_dir (str): Output directory (the ``data_root`` of both formats).
        num_images (int, optional): Number of scenes. Defaults to 1000 (about 3000 samples),
            or the sum of ``split_ratio`` when it holds counts.
        image_size (int): Side of the square images in pixels. Defaults to 128 (>= 32).
        seed (int): Random seed; the same arguments give byte-identical files. Defaults to 0.
        split_ratio (sequence): Fractions of scenes for train/val/test, or integer scene
            counts. Scenes, not samples, are split, so no picture is shared between splits.
            Defaults to (0.7, 0.1, 0.2).
        formats (sequence[str]): Any of ``'refsegrs'``, ``'rrsisd'``, ``'risbench'``
            (``<out_dir>/risbench/``: ``img_rgb/``, ``mask/`` PNGs named like
            ``train_<scene>_<id>.png``, phrase files), ``'nwpu'`` (``<out_dir>/nwpu/``:
            ``new_refs(unc).p``, ``new_instances.json`` with polygon annotations,
            ``image/image/``; besides the scene's samples, one multi-target expression
            "all the <nouns>" per scene with a repeated category (one ref per object, same
            sentence) and one no-target expression naming an absent category, ``ann_id=-1``)
            and ``'jsonl'`` (``<out_dir>/jsonl/synth_{split}.jsonl`` in RSRefSeg2's schema,
            ``file_name`` relative to ``images/``; implies ``'refsegrs'``).
            Defaults to ``('refsegrs',)``.
        samples_per_image (int | tuple[int, int]): Samples (targets) per scene, or an inclusive
            (min, max) range; fewer when a scene has fewer describable objects.
            Defaults to (2, 4).
        overwrite (bool): Replace an existing set in ``out_dir`` (only the files this
            generator writes are removed). Without it, a complete set made with the same
            arguments is reused and anything else there raises ``FileExistsError``.
        progress (bool): Show a progress bar on stderr. Defaults to True.
        difficulty (str): ``'standard'`` (the demo set) or ``'hard'`` (``synth-hard``: the
            challenges named in BTDNet's abstract): smaller vehicles (0.8x) and more of them,
            many under 1 % of the image; clustered same-category vehicles (a parking area);
            a 3x3 box blur and 0.75x contrast (blurred, low-contrast edges); unlabelled
            clutter patches in object colours and textures (ambiguous background); and
            longer expressions: one or two more true attributes (position, colour, a second
            relation joined by "and") after the singling-out combination. Ordinals and
            superlatives ("the second ...", "the largest ...") are not generated.
            Defaults to ``'standard'``.

    Returns:
        dict: The summary also stored in ``meta.json`` (arguments, per-split image and sample
        counts, per-category sample counts), plus ``out_dir``, ``time_s`` and ``reused``.
    """
    t_start = time.perf_counter()
    formats = tuple(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f'unknown formats {bad or formats!r}; choose from {FORMATS}')
    if 'jsonl' in formats and 'refsegrs' not in formats:  # jsonl points at those images
        formats = ('refsegrs', ) + formats
    if isinstance(samples_per_image, (int, np.integer)):
        samples = (int(samples_per_image), int(samples_per_image))
    else:
        samples = tuple(int(v) for v in samples_per_image)
    if len(samples) != 2 or not 1 <= samples[0] <= samples[1]:
        raise ValueError(f'invalid samples_per_image {samples_per_image!r}')
    if difficulty not in DIFFICULTIES:
        raise ValueError(f'difficulty must be one of {DIFFICULTIES}, got {difficulty!r}')
    if image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    counts = _split_counts(num_images, split_ratio)
    num_images = sum(counts)
    if num_images < 1:
        raise ValueError('num_images must be >= 1')
    if {'rrsisd', 'nwpu', 'jsonl'} & set(formats):
        try:
            from pycocotools import mask as mask_utils
        except ImportError as e:
            raise ImportError('The RRSIS-D, NWPU-Refer and jsonl formats need pycocotools: '
                              '`pip install pycocotools`.') from e

    params = dict(version=SYNTHETIC_VERSION, seed=int(seed), image_size=int(image_size),
                  num_images=num_images, split_images=dict(zip(SPLITS, counts)),
                  samples_per_image=list(samples), formats=sorted(formats))
    if difficulty != 'standard':  # the standard set's meta.json stays as before
        params['difficulty'] = difficulty
    existing = load_synthetic_meta(out_dir)
    if existing is not None and existing.get('params') == params and not overwrite:
        return dict(existing, out_dir=out_dir, time_s=time.perf_counter() - t_start,
                    reused=True)
    present = [p for p in _owned_paths(out_dir) if osp.lexists(p)]
    if present and not overwrite:
        raise FileExistsError(
            f'{out_dir} already holds {"a different" if existing else "an incomplete"} data '
            f'set ({", ".join(osp.basename(p) for p in present)}); pass overwrite=True '
            '(--force) to replace it or choose another directory.')
    for p in present:  # meta.json first: a half-deleted set is never taken as complete
        if osp.isdir(p) and not osp.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)

    img_dir, mask_dir = osp.join(out_dir, 'images'), osp.join(out_dir, 'masks')
    jpg_dir = osp.join(out_dir, 'images', 'rrsisd', 'JPEGImages')
    if 'refsegrs' in formats:
        os.makedirs(mask_dir, exist_ok=True)
        os.makedirs(img_dir, exist_ok=True)
    if 'rrsisd' in formats:
        os.makedirs(jpg_dir, exist_ok=True)
        os.makedirs(osp.join(out_dir, 'rrsisd'), exist_ok=True)
    ris_root, nwpu_root = osp.join(out_dir, 'risbench'), osp.join(out_dir, 'nwpu')
    if 'risbench' in formats:
        os.makedirs(osp.join(ris_root, 'img_rgb'), exist_ok=True)
        os.makedirs(osp.join(ris_root, 'mask'), exist_ok=True)
    if 'nwpu' in formats:
        os.makedirs(osp.join(nwpu_root, 'image', 'image'), exist_ok=True)
    ris_lines: Dict[str, List[str]] = {s: [] for s in SPLITS}
    jsonl_records: Dict[str, List[dict]] = {s: [] for s in SPLITS}
    nwpu_refs, nwpu_images, nwpu_anns = [], [], []

    split_of = np.repeat(np.arange(3), counts)
    np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, ))).shuffle(split_of)

    lines: Dict[str, List[str]] = {s: [] for s in SPLITS}
    records, refs, images, anns = [], [], [], []
    sample_id = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=num_images, desc='synthetic scenes', unit='img', leave=False)
    for scene_idx in range(num_images):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, scene_idx)))
        objects: list = []
        img, samples_ = _make_scene(rng, image_size, samples, hard=difficulty == 'hard',
                                    scene_objects=objects)
        split = SPLITS[split_of[scene_idx]]
        first_tif = first_jpg = first_png = None
        if 'nwpu' in formats:
            _write_nwpu_scene(nwpu_root, scene_idx, split, img, samples_, objects,
                              np.random.default_rng(np.random.SeedSequence(
                                  seed, spawn_key=(2, scene_idx))),
                              nwpu_refs, nwpu_images, nwpu_anns, mask_utils)
        for s in samples_:
            sid = sample_id
            sample_id += 1
            text = ' '.join(s['text'].split())
            mask = s['mask']
            if 'refsegrs' in formats:
                tif = osp.join(img_dir, f'{sid}.tif')
                if first_tif is None:
                    Image.fromarray(img).save(tif)
                    first_tif = tif
                else:
                    _link_or_copy(first_tif, tif)
                Image.fromarray(mask.astype(np.uint8) * 255).save(
                    osp.join(mask_dir, f'{sid}.tif'))
                lines[split].append(f'{sid} {text}')
            if 'rrsisd' in formats:
                name = f'{sid:05d}.jpg'
                jpg = osp.join(jpg_dir, name)
                if first_jpg is None:
                    Image.fromarray(img).save(jpg, quality=95, subsampling=0)
                    first_jpg = jpg
                else:
                    _link_or_copy(first_jpg, jpg)
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode('ascii')
                cat_id = CATEGORIES.index(s['category'])
                images.append(dict(file_name=name, height=image_size, width=image_size, id=sid))
                anns.append(dict(id=sid, image_id=sid, categories_id=cat_id, bbox=s['bbox'],
                                 segmentation=[rle], area=int(s['area'])))
                refs.append(dict(ref_id=sid, image_id=sid, ann_id=sid, split=split,
                                 file_name=name, category_id=cat_id, sent_ids=[sid],
                                 sentences=[dict(tokens=text.lower().split(), raw=text,
                                                 sent_id=sid, sent=text)]))
            if 'risbench' in formats:  # one file per triplet, VRSBench-like names
                name = f"{'test' if split == 'test' else 'train'}_{scene_idx}_{sid}.png"
                png = osp.join(ris_root, 'img_rgb', name)
                if first_png is None:
                    Image.fromarray(img).save(png)
                    first_png = png
                else:
                    _link_or_copy(first_png, png)
                Image.fromarray(mask.astype(np.uint8) * 255).save(
                    osp.join(ris_root, 'mask', name))
                ris_lines[split].append(f'{name} {text}')
            if 'jsonl' in formats:
                jsonl_records[split].append(dict(
                    split=split, image_id=str(sid), sent=text, file_name=f'{sid}.tif',
                    segmentation=_rle_dict(mask, mask_utils), ref_id=str(sid),
                    sent_id=str(sid), category_name=s['category']))
            records.append(dict(id=sid, scene=scene_idx, split=split, category=s['category'],
                                text=text, attributes=s['attributes'], area=int(s['area'])))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    if 'refsegrs' in formats:
        for split in SPLITS:
            with open(osp.join(out_dir, f'output_phrase_{split}.txt'), 'w',
                      encoding='utf-8', newline='\n') as f:
                f.write(''.join(line + '\n' for line in lines[split]))
    if 'risbench' in formats:
        for split in SPLITS:
            with open(osp.join(ris_root, f'output_phrase_{split}.txt'), 'w', encoding='utf-8',
                      newline='\n') as f:
                f.write(''.join(line + '\n' for line in ris_lines[split]))
    if 'jsonl' in formats:
        os.makedirs(osp.join(out_dir, 'jsonl'), exist_ok=True)
        for split in SPLITS:
            with open(osp.join(out_dir, 'jsonl', f'synth_{split}.jsonl'), 'w',
                      encoding='utf-8', newline='\n') as f:
                f.write(''.join(json.dumps(r) + '\n' for r in jsonl_records[split]))
    if 'nwpu' in formats:
        with open(osp.join(nwpu_root, 'new_refs(unc).p'), 'wb') as f:
            pickle.dump(nwpu_refs, f, protocol=4)
        with open(osp.join(nwpu_root, 'new_instances.json'), 'w', encoding='utf-8') as f:
            json.dump(dict(images=nwpu_images, annotations=nwpu_anns,
                           categories=[dict(id=i, name=n) for i, n in enumerate(CATEGORIES)]),
                      f, separators=(',', ':'))
    if 'rrsisd' in formats:
        with open(osp.join(out_dir, 'rrsisd', 'refs(unc).p'), 'wb') as f:
            pickle.dump(refs, f, protocol=4)
        instances = dict(images=images, annotations=anns,
                         categories=[dict(id=i, name=n) for i, n in enumerate(CATEGORIES)])
        with open(osp.join(out_dir, 'rrsisd', 'instances.json'), 'w', encoding='utf-8') as f:
            json.dump(instances, f, separators=(',', ':'))
    with open(osp.join(out_dir, SAMPLES_FILE), 'w', encoding='utf-8') as f:
        json.dump(records, f, separators=(',', ':'))

    split_samples = {s: sum(r['split'] == s for r in records) for s in SPLITS}
    cat_counts = {c: sum(r['category'] == c for r in records) for c in CATEGORIES}
    meta = dict(generator='mmrrsis.datasets.synthetic', complete=True, params=params,
                num_samples=len(records), split_samples=split_samples,
                category_samples=cat_counts, categories=list(CATEGORIES),
                category_aliases=CATEGORY_ALIASES)
    with open(osp.join(out_dir, META_FILE), 'w', encoding='utf-8') as f:  # last: marks done
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write('\n')
    return dict(meta, out_dir=out_dir, time_s=time.perf_counter() - t_start, reused=False)
