import json

import numpy as np
import pytest

from reconstruction.errors import HoifitError
from reconstruction.object_model import load_object_mesh
from reconstruction.procedural_objects import OBJECTS, make_object
from retrieval.gallery import (
    Gallery,
    build_builtin_gallery,
    build_gallery,
    builtin_meshes,
    category_from_path,
    category_prompt,
    query,
    score_gallery,
)
from retrieval.views import render_views
from tests.retrieval.conftest import SMALL_VIEWS, LookupEmbedder


@pytest.fixture(scope="module")
def lookup():
    references = {}
    for name in OBJECTS:
        mesh = make_object(name)
        references[name] = render_views(mesh.vertices, mesh.faces, SMALL_VIEWS)
    return LookupEmbedder(references)


@pytest.fixture(scope="module")
def builtin(tmp_path_factory, lookup):
    return build_builtin_gallery(lookup, tmp_path_factory.mktemp("builtin"), views=SMALL_VIEWS)


def test_builtin_meshes_round_trip(tmp_path):
    paths = builtin_meshes(tmp_path)
    assert [p.stem for p in paths] == list(OBJECTS)
    for path in paths:
        mesh, expected = load_object_mesh(path), make_object(path.stem)
        assert np.allclose(mesh.vertices, expected.vertices, atol=1e-6)
        assert (mesh.faces == expected.faces).all()


def test_builtin_gallery_contents(builtin):
    assert builtin.embeddings.shape == (len(OBJECTS), SMALL_VIEWS.num_views, len(OBJECTS))
    assert builtin.embeddings.dtype == np.float32
    assert builtin.categories == list(OBJECTS)
    assert np.allclose(builtin.sizes[list(OBJECTS).index("box")], [0.4, 0.3, 0.3], atol=1e-6)
    assert builtin.model_name == "lookup"


def test_builtin_gallery_is_cached(tmp_path, lookup):
    first = build_builtin_gallery(lookup, tmp_path, views=SMALL_VIEWS)
    calls = lookup.calls
    second = build_builtin_gallery(lookup, tmp_path, views=SMALL_VIEWS)
    assert lookup.calls == calls
    assert np.array_equal(first.embeddings, second.embeddings)


def test_save_load_round_trip(tmp_path, builtin):
    path = tmp_path / "gallery.npz"
    builtin.save(path)
    loaded = Gallery.load(path)
    assert np.array_equal(loaded.embeddings, builtin.embeddings)
    assert np.array_equal(loaded.sizes, builtin.sizes)
    assert loaded.paths == builtin.paths and loaded.categories == builtin.categories
    assert loaded.views == builtin.views and loaded.model_name == builtin.model_name
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file


def test_crop_of_a_chair_retrieves_the_chair(builtin, lookup):
    mesh = make_object("chair")
    crop = render_views(mesh.vertices, mesh.faces, SMALL_VIEWS)[1]
    noisy = np.clip(crop + np.random.default_rng(0).normal(0, 8, crop.shape), 0, 255)
    matches = query(builtin, lookup, image_crop=noisy.astype(np.uint8), k=3)
    assert [m.category for m in matches][0] == "chair"
    assert matches[0].score == pytest.approx(1.0)
    assert matches[0].path.endswith("chair.obj") and len(matches) == 3
    assert all(a.score >= b.score for a, b in zip(matches, matches[1:], strict=False))


@pytest.mark.parametrize("name", ["bench", "ball", "cup"])
def test_text_retrieves_its_category(builtin, lookup, name):
    matches = query(builtin, lookup, text=category_prompt(name), k=5)
    assert len(matches) == 5 and matches[0].category == name
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_crop_and_text_are_weighted(builtin, lookup):
    mesh = make_object("chair")
    crop = render_views(mesh.vertices, mesh.faces, SMALL_VIEWS)[0]
    text = category_prompt("bench")
    by_image = query(builtin, lookup, image_crop=crop, text=text, k=2, text_weight=0.25)
    by_text = query(builtin, lookup, image_crop=crop, text=text, k=2, text_weight=0.75)
    assert [m.category for m in by_image] == ["chair", "bench"]
    assert [m.category for m in by_text] == ["bench", "chair"]
    assert by_image[0].score == pytest.approx(0.75) and by_text[0].score == pytest.approx(0.75)


def test_score_gallery_matches_a_loop():
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(5, 3, 8))
    embeddings /= np.linalg.norm(embeddings, axis=-1, keepdims=True)
    image, text = rng.normal(size=8), rng.normal(size=8)
    image /= np.linalg.norm(image)
    text /= np.linalg.norm(text)
    image_loop = [max(float(view @ image) for view in mesh) for mesh in embeddings]
    text_loop = [np.mean([float(view @ text) for view in mesh]) for mesh in embeddings]
    assert np.allclose(score_gallery(embeddings, image_embedding=image), image_loop)
    assert np.allclose(score_gallery(embeddings, text_embedding=text), text_loop)
    both = score_gallery(embeddings, image, text, text_weight=0.3)
    assert np.allclose(both, 0.7 * np.array(image_loop) + 0.3 * np.array(text_loop))


def test_query_errors(builtin, lookup):
    with pytest.raises(HoifitError, match="crop, a text"):
        query(builtin, lookup)
    with pytest.raises(HoifitError, match="k >= 1"):
        query(builtin, lookup, text="a photo of a cup", k=0)
    wrong_size = Gallery(
        embeddings=builtin.embeddings[..., :3],
        paths=builtin.paths,
        categories=builtin.categories,
        sizes=builtin.sizes,
        views=builtin.views,
    )
    with pytest.raises(HoifitError, match="built with"):
        query(wrong_size, lookup, text="a photo of a cup")


def test_build_from_folder_guesses_categories(tmp_path, lookup):
    builtin_meshes(tmp_path / "raw")
    (tmp_path / "lib" / "seats").mkdir(parents=True)
    (tmp_path / "raw" / "chair.obj").rename(tmp_path / "lib" / "chair_01.obj")
    (tmp_path / "raw" / "stool.obj").rename(tmp_path / "lib" / "seats" / "object.obj")
    gallery = build_gallery(tmp_path / "lib", lookup, views=SMALL_VIEWS)
    assert gallery.categories == ["chair", "seats"]
    assert gallery.embeddings.shape == (2, SMALL_VIEWS.num_views, len(OBJECTS))
    with pytest.raises(HoifitError, match="categories"):
        build_gallery(tmp_path / "lib", lookup, views=SMALL_VIEWS, categories=["a"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(HoifitError, match="no mesh files"):
        build_gallery(tmp_path / "empty", lookup)
    with pytest.raises(HoifitError, match="not found"):
        build_gallery(tmp_path / "missing", lookup)


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("lib/chair_01.obj", "chair"),
        ("lib/Office-Chair-3.ply", "office-chair"),
        ("lib/table/object.obj", "table"),
        ("lib/bottle/0042.obj", "bottle"),
        ("ball.glb", "ball"),
    ],
)
def test_category_from_path(path, category):
    assert category_from_path(path) == category


def _corrupt(path, **changes):
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del arrays[key]
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes",
    [
        {"embeddings": None},
        {"format_version": np.int64(99)},
        {"paths": np.asarray(["only_one.obj"])},
        {"sizes": np.zeros((2, 3), np.float32)},
        {"views": np.str_(json.dumps({"num_views": 3}))},
        {"views": np.str_("not json")},
    ],
)
def test_malformed_gallery_file(tmp_path, builtin, changes):
    path = tmp_path / "gallery.npz"
    builtin.save(path)
    _corrupt(path, **changes)
    with pytest.raises(HoifitError, match="rebuild"):
        Gallery.load(path)


def test_unreadable_or_missing_gallery_file(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(HoifitError, match="cannot read"):
        Gallery.load(tmp_path / "junk.npz")
    with pytest.raises(HoifitError, match="not found"):
        Gallery.load(tmp_path / "missing.npz")
