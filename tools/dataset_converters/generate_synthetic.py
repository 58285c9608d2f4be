# Copyright (c) mmrrsis contributors. All rights reserved.
"""Generate the synthetic RRSIS data set (RefSegRS and optionally RRSIS-D format).

Example::

    python tools/dataset_converters/generate_synthetic.py data/synthetic \
        --num-images 1000 --image-size 128 --formats refsegrs rrsisd
    # synth-hard (the BTDNet ablation's second set)
    python tools/dataset_converters/generate_synthetic.py data/synth-hard \
        --num-images 3000 --split-ratio 2600 150 250 --difficulty hard
"""
import argparse
import sys

from mmrrsis.datasets.synthetic import DIFFICULTIES, FORMATS, generate_synthetic_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the synthetic RRSIS data set.')
    parser.add_argument('out_dir', help='output directory (the data_root)')
    parser.add_argument('--num-images', type=int, default=1000,
                        help='number of scenes (each gives several samples)')
    parser.add_argument('--image-size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--formats', nargs='+', choices=FORMATS, default=['refsegrs'],
                        help='on-disk formats to write')
    parser.add_argument('--samples-per-image', type=int, nargs='+', default=[2, 4],
                        metavar='N', help='samples per scene: N or MIN MAX')
    parser.add_argument('--split-ratio', type=float, nargs=3, default=[0.7, 0.1, 0.2],
                        metavar=('TRAIN', 'VAL', 'TEST'), help='fractions of scenes per split')
    parser.add_argument('--difficulty', choices=DIFFICULTIES, default='standard',
                        help="'hard' writes synth-hard: small, clustered targets, blurred "
                        'low-contrast edges, object-coloured clutter, longer expressions')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing data set in out_dir')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args(argv)
    if len(args.samples_per_image) > 2:
        parser.error('--samples-per-image takes N or MIN MAX')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    spi = args.samples_per_image
    try:
        summary = generate_synthetic_dataset(
            args.out_dir,
            num_images=args.num_images,
            image_size=args.image_size,
            seed=args.seed,
            split_ratio=tuple(args.split_ratio),
            formats=tuple(args.formats),
            samples_per_image=(spi[0], spi[-1]),
            overwrite=args.force,
            difficulty=args.difficulty,
            progress=not args.no_progress)
    except FileExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    params = summary['params']
    state = 'reused the existing' if summary['reused'] else 'wrote the'
    print(f'{state} synthetic RRSIS data set in {summary["out_dir"]} '
          f'({", ".join(params["formats"])}; {params["image_size"]} px; seed {params["seed"]}; '
          f'{summary["time_s"]:.1f} s)')
    print(f'{"split":<8}{"images":>8}{"samples":>9}')
    for split, n_img in params['split_images'].items():
        print(f'{split:<8}{n_img:>8}{summary["split_samples"][split]:>9}')
    print(f'{"total":<8}{params["num_images"]:>8}{summary["num_samples"]:>9}')
    print('samples per category: ' + ', '.join(
        f'{c} {n}' for c, n in summary['category_samples'].items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
