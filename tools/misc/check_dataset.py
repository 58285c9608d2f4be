# Copyright (c) mmrrsis contributors. All rights reserved.
"""Check an RRSIS data root (refsegrs, rrsisd, rrsishr, risbench, nwpu, jsonl) for missing,
unreadable or inconsistent samples.

Goes through the whole set and prints every problem kind with its count and the first examples
(see ``mmrrsis/datasets/checks.py`` for the kinds). Exits with 1 when errors were found
(warnings such as empty masks or non-RGB images do not count unless ``--strict``), else 0.
With ``--config``, the splits that config trains, validates and tests on are checked too, and
an empty one is an error (a training run would stop on it).

Example::

    python tools/misc/check_dataset.py refsegrs data/RefSegRS --out report.json
    python tools/misc/check_dataset.py rrsisd data/refer_data --splits val test
    python tools/misc/check_dataset.py risbench data/RISBench
    python tools/misc/check_dataset.py nwpu data/NWPU-Refer
    python tools/misc/check_dataset.py jsonl data/jsonl/refsegrs   # <name>_<split>.jsonl files
    python tools/misc/check_dataset.py refsegrs data/RefSegRS --config configs/lavt/CONFIG.py
"""
import argparse
import json
import sys

from mmrrsis.datasets.checks import DATASET_KINDS, check_dataset, format_report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check an RRSIS data set on disk.')
    parser.add_argument('kind', choices=DATASET_KINDS, help='data set format')
    parser.add_argument('data_root', help='data root (as given to the dataset class)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'])
    parser.add_argument('--max-examples', type=int, default=10,
                        help='examples listed per problem kind')
    parser.add_argument('--out', help='write the full report as JSON here')
    parser.add_argument('--strict', action='store_true', help='warnings count as errors too')
    parser.add_argument('--img-dir', default=None,
                        help="image folder relative to data_root (default: the kind's own; "
                        'jsonl: the folder file_name is relative to)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--config', default=None,
                        help='a config that uses this data: the splits it trains, validates '
                        'and tests on are checked, and an empty one is an error')
    return parser.parse_args(argv)


def config_splits(config: str) -> dict:
    """``{split: [dataloader, ...]}`` of the train / val / test dataloaders of a config (the
    ``split`` of each dataset, wrappers unwrapped)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    used = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while isinstance(dataset, dict) and 'split' not in dataset and 'dataset' in dataset:
            dataset = dataset['dataset']
        if isinstance(dataset, dict) and dataset.get('split') is not None:
            used.setdefault(str(dataset['split']), []).append(loader)
    return used


def main(argv=None) -> int:
    args = parse_args(argv)
    kwargs = {} if args.img_dir is None else dict(img_dir=args.img_dir)
    used = config_splits(args.config) if args.config else {}
    splits = list(args.splits) + [s for s in used if s not in args.splits]
    report = check_dataset(args.kind, args.data_root, splits,
                           max_examples=args.max_examples, progress=not args.no_progress,
                           **kwargs)
    print(format_report(report))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'report written to {args.out}')
    failed = report['num_errors'] > 0 or (args.strict and report['num_warnings'] > 0)
    empty_used = [s for s in used if not report['splits'].get(s)]
    for split in empty_used:
        print(f'ERROR: split {split!r} has no samples, but {args.config} uses it in '
              f"{' and '.join(used[split])}")
    return 1 if failed or empty_used else 0


if __name__ == '__main__':
    sys.exit(main())
