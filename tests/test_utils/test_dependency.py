# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest

from mmrrsis.utils import dependency
from mmrrsis.utils.dependency import check_mm_versions, require


def _versions(monkeypatch, **versions):
    monkeypatch.setattr(dependency, '_installed', lambda dist: versions.get(dist))


def test_current_environment_passes():
    check_mm_versions()


def test_mmcv_too_new_names_the_fix(monkeypatch):
    _versions(monkeypatch, mmcv='2.2.0', mmengine='0.10.7', mmsegmentation='1.2.2')
    with pytest.raises(ImportError, match=r'mmcv==2\.2\.0.*MMCV_WITH_OPS=1'):
        check_mm_versions()


def test_mmcv_lite_and_missing(monkeypatch):
    _versions(monkeypatch, **{'mmcv-lite': '2.1.0'})
    with pytest.raises(ImportError, match='mmcv-lite'):
        check_mm_versions()
    _versions(monkeypatch)
    with pytest.raises(ImportError, match='mmcv is not installed.*make install'):
        check_mm_versions()


def test_mmcv_without_ops_names_the_fix(monkeypatch):
    _versions(monkeypatch, mmcv='2.1.0', mmengine='0.10.7', mmsegmentation='1.2.2')

    def no_ext(name):
        raise ImportError('libc10.so: undefined symbol')

    monkeypatch.setattr(dependency, 'import_module', no_ext)
    with pytest.raises(ImportError, match='without working compiled ops.*--no-build-isolation'):
        check_mm_versions()


def test_mmseg_version_bound(monkeypatch):
    _versions(monkeypatch, mmcv='2.1.0', mmengine='0.10.7', mmsegmentation='1.3.0')
    monkeypatch.setattr(dependency, 'import_module', lambda name: None)
    with pytest.raises(ImportError, match=r'mmsegmentation==1\.3\.0.*pip install'):
        check_mm_versions()


def test_require_names_the_install_command():

    @require('surely_not_a_module_xyz', 'surely-not-a-package')
    def fn():
        return 1

    with pytest.raises(ImportError, match='pip install surely-not-a-package'):
        fn()
    assert require('os')(lambda: 2)() == 2
