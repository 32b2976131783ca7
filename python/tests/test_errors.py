"""The package imports, and every library status becomes its exception class, carrying the
library's message and the status's name."""
import pytest

import natgrad
from natgrad import _natgrad


def test_import_and_registry():
    ids = natgrad.env_ids()
    assert ids[:5] == ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0",
                       "MountainCarContinuous-v0"]
    assert "Hopper-v5" in ids
    info = natgrad.env_info("CartPole-v1")
    assert info["max_episode_steps"] == 500
    assert info["state_size"] == 4


# (status, class, the builtin it must also be)
MAPPING = [
    ("NG_EINVAL", natgrad.InvalidArgumentError, ValueError),
    ("NG_ERANGE", natgrad.OutOfRangeError, ValueError),
    ("NG_ENOTFOUND", natgrad.NotFoundError, ValueError),
    ("NG_ENONFINITE", natgrad.NonFiniteError, ValueError),
    ("NG_EIO", natgrad.FileError, OSError),
    ("NG_EFORMAT", natgrad.FormatError, natgrad.Error),
    ("NG_EUNSUPPORTED", natgrad.UnsupportedError, natgrad.Error),
    ("NG_EINTERRUPTED", natgrad.InterruptedError, natgrad.Error),
    ("NG_EBUSY", natgrad.BusyError, natgrad.Error),
    ("NG_EEXIST", natgrad.ExistsError, FileExistsError),
    ("NG_ENOTPD", natgrad.NumericalError, natgrad.Error),
    ("NG_ELINESEARCH", natgrad.NumericalError, natgrad.Error),
]


@pytest.mark.parametrize("name,cls,builtin", MAPPING)
def test_status_maps_to_its_class(name, cls, builtin):
    code = getattr(_natgrad, name)
    with pytest.raises(cls) as info:
        _natgrad.raise_status(code, f"message for {name}")
    assert isinstance(info.value, natgrad.Error)
    assert isinstance(info.value, builtin)
    assert str(info.value) == f"message for {name}"
    assert info.value.status == name


def test_checkpoint_error_is_format_error():
    assert natgrad.CheckpointError is natgrad.FormatError


def test_nomem_is_memory_error():
    with pytest.raises(MemoryError):
        _natgrad.raise_status(_natgrad.NG_ENOMEM, "out of memory")


def test_unknown_status_is_the_base_class():
    with pytest.raises(natgrad.Error) as info:
        _natgrad.raise_status(-999, "odd")
    assert type(info.value) is natgrad.Error


def test_unknown_env_id_lists_known_ids():
    with pytest.raises(natgrad.NotFoundError, match="CartPole-v1") as info:
        natgrad.env_info("CartPol-v1")
    assert isinstance(info.value, ValueError)
    assert info.value.status == "NG_ENOTFOUND"


def test_missing_plugin_file():
    with pytest.raises(natgrad.NotFoundError, match="no-such-plugin.so"):
        natgrad.load_plugin("/nonexistent/no-such-plugin.so")
