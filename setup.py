# Copyright (c) mmrrsis contributors. All rights reserved.
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join('mmrrsis', 'version.py')) as f:
        exec(compile(f.read(), 'mmrrsis/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    """Requirement lines of ``fname`` (comments and ``-r`` includes resolved)."""
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


def add_mim_extension():
    """Make ``tools/``, ``configs/`` and ``model-index.yml`` reachable as ``mmrrsis/.mim/*``.

    Links them for editable installs (``develop`` and PEP 660's ``editable_wheel``, which pip >=
    25.3 always uses) and copies them for ``sdist`` / ``bdist_wheel`` so that ``mim train
    mmrrsis <cfg>`` finds them after a normal install.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return

    filenames = ['tools', 'configs', 'model-index.yml']
    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmrrsis', '.mim')
    os.makedirs(mim_path, exist_ok=True)

    for filename in filenames:
        if not osp.exists(filename):
            continue
        src_path = osp.join(repo_path, filename)
        tar_path = osp.join(mim_path, filename)
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            src_relpath = osp.relpath(src_path, osp.dirname(tar_path))
            try:
                os.symlink(src_relpath, tar_path)
            except OSError:
                mode = 'copy'
                warnings.warn(f'Failed to create a symbolic link for {src_relpath}, '
                              f'copying {filename} to {tar_path} instead')
        if mode == 'copy':
            if osp.isfile(src_path):
                shutil.copyfile(src_path, tar_path)
            else:
                shutil.copytree(src_path, tar_path)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmrrsis',
        version=get_version(),
        description='Referring Remote Sensing Image Segmentation toolbox on MMSegmentation 1.x',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='referring segmentation, remote sensing, mmsegmentation',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs', 'demo')),
        include_package_data=True,
        zip_safe=False,
        python_requires='>=3.8',
        license='Apache License 2.0',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'all': parse_requirements('requirements.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
    )
