import numpy as np
import pytest

from reconstruction.procedural_objects import OBJECTS, make_object
from retrieval.views import ViewConfig, normalize_mesh, render_views, view_rotations


def test_default_views_shape_and_dtype():
    mesh = make_object("chair")
    images = render_views(mesh.vertices, mesh.faces)
    assert len(images) == ViewConfig().num_views
    for image in images:
        assert image.shape == (224, 224, 3) and image.dtype == np.uint8
        assert (image == 255).all(axis=-1)[0].all()  # white background at the border


@pytest.mark.parametrize("shading", ["grey", "normals"])
@pytest.mark.parametrize("name", list(OBJECTS))
def test_every_view_shows_the_object(name, shading):
    mesh = make_object(name)
    config = ViewConfig(num_views=4, image_size=64, shading=shading)
    for image in render_views(mesh.vertices, mesh.faces, config):
        covered = (image != 255).any(axis=-1)
        assert covered.mean() > 0.01
        # Normalized to the unit sphere and framed: the object never touches the border.
        assert not covered[0].any() and not covered[-1].any()
        assert not covered[:, 0].any() and not covered[:, -1].any()


def test_renders_do_not_depend_on_units_or_position():
    mesh = make_object("bench")
    config = ViewConfig(num_views=2, image_size=48)
    metres = render_views(mesh.vertices, mesh.faces, config)
    moved = render_views(mesh.vertices * 100 + [3.0, -2.0, 5.0], mesh.faces, config)
    for a, b in zip(metres, moved, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_normalize_mesh_fits_the_unit_sphere():
    unit = normalize_mesh(np.random.default_rng(0).normal(size=(50, 3)) * 7 + 3)
    assert np.isclose(np.linalg.norm(unit, axis=1).max(), 1)
    assert np.allclose(unit.min(0) + unit.max(0), 0)


def test_view_rotations_are_proper_and_look_down():
    rotations = view_rotations(ViewConfig(num_views=5, elevation_deg=30))
    assert np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rotations), 1)
    # Object up (+y) points image-up (camera -y) and, seen from above, towards the camera.
    up = rotations @ np.array([0.0, 1.0, 0.0])
    assert (up[:, 1] < 0).all() and (up[:, 2] < 0).all()


def test_invalid_view_config():
    with pytest.raises(ValueError):
        ViewConfig(num_views=0)
    with pytest.raises(ValueError):
        ViewConfig(shading="toon")
