"""scoring.risk.store: skops files, digest checked before loading, only scikit-learn/NumPy types accepted."""

from __future__ import annotations

import collections
import io
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from scoring.risk import store


class Sneaky(collections.OrderedDict):  # type: ignore[type-arg]
    """Not a scikit-learn type: a model file holding one must be refused."""


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(90, 4))
    x[::6, 2] = np.nan
    y = (x[:, 0] + rng.normal(scale=0.8, size=90) > 0.3).astype(int)
    return x, y


@pytest.fixture(scope="module")
def model(data: tuple[np.ndarray, np.ndarray]) -> CalibratedClassifierCV:
    x, y = data
    pipe = Pipeline(
        [("impute", SimpleImputer(add_indicator=True)), ("scale", StandardScaler()), ("lr", LogisticRegression())]
    )
    return CalibratedClassifierCV(pipe, cv=3).fit(x, y)


def test_round_trip_gives_identical_probabilities(tmp_path, model, data):
    x, _ = data
    path = tmp_path / "model.skops"
    sha = store.save(model, path)
    loaded = store.load(path, sha)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    # bytes work as well as paths
    np.testing.assert_array_equal(store.load(path.read_bytes(), sha).predict_proba(x), model.predict_proba(x))


def test_save_returns_the_digest_of_what_is_on_disk(tmp_path, model):
    path = tmp_path / "sub" / "model.skops"
    sha = store.save(model, path)
    assert sha == store.digest(path.read_bytes())
    assert len(sha) == 64 and int(sha, 16) >= 0
    assert [p.name for p in path.parent.iterdir()] == ["model.skops"]  # no temporary file left behind


def test_dump_is_skops_not_pickle(model):
    data = store.dump(model)
    assert data[:2] == b"PK"  # skops files are zip archives with a schema.json, not pickle streams
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "schema.json" in archive.namelist()


def test_one_flipped_byte_is_refused_before_loading(tmp_path, model, monkeypatch):
    path = tmp_path / "model.skops"
    sha = store.save(model, path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))

    def boom(*_args, **_kwargs):
        raise AssertionError("deserialised a tampered file")

    monkeypatch.setattr(store.sio, "loads", boom)
    monkeypatch.setattr(store.sio, "get_untrusted_types", boom)
    with pytest.raises(store.TamperedModel, match="digest mismatch"):
        store.load(path, sha)


def test_a_wrong_expected_digest_is_refused(tmp_path, model):
    path = tmp_path / "model.skops"
    sha = store.save(model, path)
    wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
    with pytest.raises(store.TamperedModel):
        store.load(path, wrong)
    with pytest.raises(store.TamperedModel):
        store.load(path, "")


def test_a_non_sklearn_object_is_refused_even_with_the_right_digest(tmp_path):
    path = tmp_path / "evil.skops"
    sha = store.save({"model": Sneaky(a=1)}, path)
    with pytest.raises(store.UntrustedModel, match="Sneaky") as caught:
        store.load(path, sha)
    assert any(name.endswith("Sneaky") for name in caught.value.types)


def test_names_that_only_look_like_sklearn_are_refused():
    assert store._is_trusted_type("sklearn.linear_model._logistic.LogisticRegression")
    assert store._is_trusted_type("numpy.dtype")
    assert store._is_trusted_type("builtins.frozenset")
    assert not store._is_trusted_type("sklearn.utils.fixes.os.system")  # not an importable module
    assert not store._is_trusted_type("sklearn.base.clone")  # a function, not a class
    assert not store._is_trusted_type("sklearnx.Thing")
    assert not store._is_trusted_type("builtins.eval")
    assert not store._is_trusted_type("os.system")


def test_plain_trusted_containers_load(tmp_path):
    payload = {"names": ["a", "b"], "weights": np.arange(3.0), "order": collections.OrderedDict(x=1)}
    data = sio.dumps(payload)
    loaded = store.load(data, store.digest(data))
    assert loaded["names"] == ["a", "b"] and list(loaded["weights"]) == [0.0, 1.0, 2.0]
