# Copyright (c) mmrrsis contributors. All rights reserved.
"""Run an ablation ladder (rows x seeds, equal budget) on a synthetic set and tabulate it.

Each run is ``demo/run_demo.py --config CFG --iters N --seed S`` (train, best val checkpoint,
test, test with the expressions shuffled) in its own process, one after the other (one
CPU-heavy job at a time); a finished run (its ``metrics.json`` exists) is not run again, so an
interrupted ladder resumes. The table gives mean +- std (sample std over seeds) of oIoU, mIoU,
Pr@0.5-0.9 and the shuffled-expression oIoU.

    python tools/analysis_tools/ablation_ladder.py --rows btdnet --set hard \
        --seeds 0 1 2 --iters 300 --work-dir work_dirs/ladder
    python tools/analysis_tools/ablation_ladder.py --table-only --work-dir work_dirs/ladder
    python tools/analysis_tools/ablation_ladder.py --rows btdnet-neck --set hard --table-only \
        --grounding

``--grounding`` also runs ``dmols_grounding.py`` on every finished run of a BTDNet row (its best
checkpoint, the first ``--grounding-batches`` test batches of 16; the result is kept as the run's
``grounding.json``) and prints one more table per run: the reconstruction loss as computed,
with the memory shuffled, the best constant predictor, and the spread of the encoded and the
BSC-updated words (a collapse of the updated words shows as a spread near 0).

The last line printed is one JSON object with the per-row means and stds.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BT = 'configs/btdnet/'
_TINY = 'swin-tiny_minilm_1xb16-2k_synth-128x128.py'
_R18 = 'r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py'
#: name -> (config, --cfg-options); the BTDNet ladder of configs/btdnet/README.md.
LADDERS: Dict[str, List[Tuple[str, str, List[str]]]] = {
    'btdnet': [
        ('0 LAVT', f'configs/lavt/lavt_{_TINY}', []),
        ('1 +BSC (multi_dilation)', f'{BT}btdnet-abl1-bsc_{_TINY}', []),
        ('1u +BSC (unfold_multi)', f'{BT}btdnet-abl1-bsc-unfold_{_TINY}', []),
        ('2 +BSC+T-BTD (text bg query)', f'{BT}btdnet-abl2-bsc-tbtd_{_TINY}', []),
        ('2l +BSC+T-BTD (learned bg query)', f'{BT}btdnet-abl2-bsc-tbtd-learnedbg_{_TINY}', []),
        ('3f +D-MOLS side_branch, feature', f'{BT}btdnet_{_TINY}', []),
        ('3t +D-MOLS side_branch, token', f'{BT}btdnet-dmols-token_{_TINY}', []),
        ('3s +D-MOLS single_pass (old)', f'{BT}btdnet-dmols-singlepass_{_TINY}', []),
        ('FIANet', f'configs/fianet/fianet_{_TINY}', []),
        ('LGCE', f'configs/lgce/lgce_{_TINY}', []),
    ],
    # the same ladder on the demo recipe (ResNet-18 + late-fusion neck, frozen cached MiniLM)
    'btdnet-neck': [
        ('0 LAVT (PWAM neck + LAVT head)', f'{BT}btdnet-neck-abl0-lavt_{_R18}', []),
        ('1 +BSC (multi_dilation)', f'{BT}btdnet-neck-abl1-bsc_{_R18}', []),
        ('1u +BSC (unfold_multi)', f'{BT}btdnet-neck-abl1u-bsc-unfold_{_R18}', []),
        ('0b PWAM neck + T-BTD (the demo model)',
         'configs/lavt/fusionneck-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py', []),
        ('2 +BSC+T-BTD (text bg query)', f'{BT}btdnet-neck-abl2-bsc-tbtd_{_R18}', []),
        ('2l +BSC+T-BTD (learned bg query)', f'{BT}btdnet-neck-abl2l-bsc-tbtd-learnedbg_{_R18}',
         []),
        ('3f +D-MOLS side_branch, feature', f'{BT}btdnet-neck_{_R18}', []),
        ('3t +D-MOLS side_branch, token', f'{BT}btdnet-neck-dmols-token_{_R18}', []),
        ('3fl +D-MOLS side_branch, feature, learned bg query',
         f'{BT}btdnet-neck-learnedbg_{_R18}', []),
        ('3s +D-MOLS single_pass (old)', f'{BT}btdnet-neck-dmols-singlepass_{_R18}', []),
        # BSC's word update read through a LayerNorm (text_update_norm), against word collapse
        ('2n +BSC+T-BTD, word-update norm', f'{BT}btdnet-neck-abl2-bsc-tbtd-wordnorm_{_R18}', []),
        ('3fn +D-MOLS feature, word-update norm', f'{BT}btdnet-neck-wordnorm_{_R18}', []),
        ('3fln +D-MOLS feature, learned bg query, word-update norm',
         f'{BT}btdnet-neck-learnedbg-wordnorm_{_R18}', []),
        # comparison rows: the other methods' language parts on the same backbone and recipe
        ('fianet FIANet (FIAM neck + TMEM)', f'configs/fianet/fianet-neck_{_R18}', []),
        ('lgce LGCE (PWAM neck + LGCE, effective fusion)', f'configs/lgce/lgce-neck_{_R18}', []),
        ("lgcep LGCE as the RRSECS port computes it (fusion never reaches the pixels)",
         f'configs/lgce/lgce-neck-port_{_R18}', []),
        ("lgce-ce LGCE with LGCE's loss (CE only)", f'configs/lgce/lgce-neck-celoss_{_R18}', []),
    ],
}
METRICS = ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.6', 'Pr@0.7', 'Pr@0.8', 'Pr@0.9',
           'oIoU_shuffled_text')
DATA = {'standard': 'data/synth', 'hard': 'data/synth-hard'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Run and tabulate an ablation ladder')
    p.add_argument('--rows', default='btdnet', choices=sorted(LADDERS))
    p.add_argument('--only', nargs='+', default=None,
                   help='row name prefixes to run (e.g. 0 2 3f); default: every row')
    p.add_argument('--set', choices=sorted(DATA), default='standard',
                   help="synthetic set: 'standard' (synth) or 'hard' (synth-hard)")
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--iters', type=int, default=300)
    p.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'ladder'))
    p.add_argument('--table-only', action='store_true', help='tabulate finished runs only')
    p.add_argument('--grounding', action='store_true',
                   help='also run the D-MOLS grounding / word-spread diagnostic on every '
                   'finished BTDNet run and tabulate it')
    p.add_argument('--grounding-batches', type=int, default=20,
                   help='test batches (of 16) the diagnostic reads per run (default: 20)')
    return p.parse_args(argv)


def run_dir(work_dir: str, set_name: str, row: str, seed: int, iters: int,
            ladder: str = 'btdnet') -> str:
    slug = row.split(' ')[0]
    return osp.join(work_dir, ladder, set_name, f'{slug}_it{iters}_seed{seed}')


def run_one(config: str, options: List[str], seed: int, iters: int, data_root: str,
            difficulty: str, out_dir: str) -> bool:
    cmd = [sys.executable, osp.join(REPO, 'demo', 'run_demo.py'), '--config',
           osp.join(REPO, config), '--iters', str(iters), '--seed', str(seed), '--num-vis', '0',
           '--data-root', data_root, '--difficulty', difficulty, '--work-dir', out_dir]
    if options:
        cmd += ['--cfg-options'] + options
    os.makedirs(out_dir, exist_ok=True)
    t = time.time()
    with open(osp.join(out_dir, 'ladder.log'), 'w') as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    print(f'  rc {rc}, {time.time() - t:.0f} s: {out_dir}', flush=True)
    return rc == 0


def collect(work_dir: str, set_name: str, rows, seeds, iters,
            ladder: str = 'btdnet') -> Dict[str, dict]:
    table = {}
    for name, _, _ in rows:
        found = []
        for seed in seeds:
            f = osp.join(run_dir(work_dir, set_name, name, seed, iters, ladder), 'metrics.json')
            if osp.isfile(f):
                with open(f) as fh:
                    found.append(json.load(fh))
        if not found:
            continue
        entry = dict(seeds=len(found), train_seconds=float(
            np.mean([m.get('train_seconds', np.nan) for m in found])))
        for k in METRICS:
            vals = np.array([m[k] for m in found], dtype=np.float64)
            entry[k] = dict(mean=float(vals.mean()),
                            std=float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                            values=[float(v) for v in vals])
        table[name] = entry
    return table


def grounding_one(config: str, options: List[str], out_dir: str, data_root: str,
                  max_batches: int = 20) -> Optional[dict]:
    """Run ``dmols_grounding.py`` on a finished run (cached as ``grounding.json``).

    Returns:
        dict | None: The diagnostic's JSON (``loss_rec`` ... only with D-MOLS, the word
        spreads for every BTDNet), or None when the run is unfinished or the model is not a
        BTDNet (the reason is kept in ``grounding.json`` as ``error``).
    """
    cache = osp.join(out_dir, 'grounding.json')
    if osp.isfile(cache):
        with open(cache) as f:
            result = json.load(f)
        return None if 'error' in result else result
    metrics = osp.join(out_dir, 'metrics.json')
    if not osp.isfile(metrics):
        return None
    with open(metrics) as f:
        checkpoint = osp.join(out_dir, json.load(f)['checkpoint'])
    if not osp.isfile(checkpoint):
        print(f'  grounding: {checkpoint} is missing; skipped', flush=True)
        return None
    cmd = [sys.executable, osp.join(REPO, 'tools', 'analysis_tools', 'dmols_grounding.py'),
           osp.join(REPO, config), checkpoint, '--max-batches', str(max_batches),
           '--no-progress', '--cfg-options', f'test_dataloader.dataset.data_root={data_root}'
           ] + options
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        result = json.loads(lines[-1])
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ['no output']
        result = dict(error=f'dmols_grounding.py exited {proc.returncode}: {tail[0]}')
        print(f'  grounding: {out_dir}: {result["error"]} (kept in grounding.json; delete it '
              'to retry)', flush=True)
    with open(cache, 'w') as f:
        json.dump(result, f, indent=2)
    return None if 'error' in result else result


def grounding_markdown(results: List[Tuple[str, int, dict]]) -> str:
    """One line per (row, seed, diagnostic); '—' where the model has no D-MOLS."""
    lines = ['| row | seed | loss_rec | memory shuffled | ratio | best constant | '
             'word spread encoded | word spread updated |', '|' + '---|' * 8]
    keys = ('loss_rec', 'loss_rec_shuffled', 'ratio', 'loss_rec_constant',
            'word_spread_encoded', 'word_spread_updated')
    for name, seed, r in results:
        cells = [(f'{r[k]:.3f}' if k == 'ratio' else f'{r[k]:.4f}') if k in r else '—'
                 for k in keys]
        lines.append(f"| {name.split(' ')[0]} | {seed} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def markdown(table: Dict[str, dict]) -> str:
    head = ('| row | seeds | ' + ' | '.join(METRICS).replace('oIoU_shuffled_text',
                                                            'oIoU shuffled') + ' |')
    lines = [head, '|' + '---|' * (len(METRICS) + 2)]
    for name, e in table.items():
        cells = [f"{e[k]['mean']:.2f} ± {e[k]['std']:.2f}" for k in METRICS]
        lines.append(f"| {name} | {e['seeds']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = LADDERS[args.rows]
    if args.only:
        rows = [r for r in rows if r[0].split(' ')[0] in args.only]
    data_root = osp.join(REPO, DATA[args.set])
    if not args.table_only:
        for seed in args.seeds:  # seed-major: every row gets its first seed early
            for name, config, options in rows:
                out = run_dir(args.work_dir, args.set, name, seed, args.iters, args.rows)
                if osp.isfile(osp.join(out, 'metrics.json')):
                    continue
                print(f'[ladder] {args.set} | {name} | seed {seed} | {args.iters} it', flush=True)
                run_one(config, options, seed, args.iters, data_root, args.set, out)
    table = collect(args.work_dir, args.set, rows, args.seeds, args.iters, args.rows)
    print(markdown(table))
    if args.grounding:
        found = []
        for name, config, options in rows:
            for seed in args.seeds:
                out = run_dir(args.work_dir, args.set, name, seed, args.iters, args.rows)
                result = grounding_one(config, options, out, data_root,
                                       args.grounding_batches)
                if result is not None:
                    found.append((name, seed, result))
        print()
        print(grounding_markdown(found))
    print(json.dumps(dict(set=args.set, iters=args.iters, rows={
        k: {m: v[m] for m in METRICS} | dict(seeds=v['seeds']) for k, v in table.items()})))
    return 0


if __name__ == '__main__':
    sys.exit(main())
