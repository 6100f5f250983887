import inspect

import numpy as np
import pytest

from reconstruction.procedural_objects import (
    INSTANCE_RANGES,
    OBJECTS,
    make_object,
    random_instance_kwargs,
)


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_objects_rest_on_the_floor_y_up(name):
    mesh = make_object(name)
    assert len(mesh.faces) > 0 and np.isfinite(mesh.vertices).all()
    low, high = mesh.bounds
    assert low[1] == pytest.approx(0.0, abs=1e-9)
    assert 0.05 < high[1] < 1.5  # plausible heights in metres
    assert abs(low[0] + high[0]) < 0.05  # centred on the y axis


def test_unknown_object():
    with pytest.raises(ValueError, match="known: stool"):
        make_object("spaceship")


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_random_instances_stay_in_range_around_the_defaults(name):
    rng = np.random.default_rng(0)
    ranges = INSTANCE_RANGES[name]
    defaults = {
        key: parameter.default
        for key, parameter in inspect.signature(OBJECTS[name]).parameters.items()
    }
    assert set(ranges) == set(defaults)
    for key, (low, high) in ranges.items():
        assert np.all(np.asarray(low) <= defaults[key]) and np.all(defaults[key] <= high), key
    first, second = random_instance_kwargs(name, rng), random_instance_kwargs(name, rng)
    assert first != second
    for key, value in first.items():
        low, high = ranges[key]
        assert np.all(np.asarray(low) <= value) and np.all(np.asarray(value) <= high)
    assert len(OBJECTS[name](**first).faces) > 0
