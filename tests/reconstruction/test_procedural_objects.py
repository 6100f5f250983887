import numpy as np
import pytest

from reconstruction.procedural_objects import OBJECTS, make_object


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
