import json
import shutil

import numpy as np
import pytest
from PIL import Image
from transformers import CLIPImageProcessorPil

from reconstruction.errors import HoifitError
from retrieval.embedding import ClipEmbedder, Embedder
from retrieval.gallery import Gallery, build_builtin_gallery, category_prompt, query
from tests.retrieval.conftest import SMALL_VIEWS

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# The preprocessor_config.json of openai/clip-vit-base-patch32, as published on the hub (in the
# old feature-extractor form, with plain-int sizes).
OPENAI_CLIP_B32 = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": OPENAI_CLIP_MEAN,
    "image_std": OPENAI_CLIP_STD,
    "resample": 3,
    "size": 224,
}


@pytest.fixture(scope="module")
def clip(tiny_clip_dir):
    return ClipEmbedder(tiny_clip_dir, device="cpu")


def test_embeddings_are_unit_rows(clip):
    assert isinstance(clip, Embedder)
    images = [np.zeros((50, 70, 3), np.uint8), np.full((224, 300, 3), 200, np.uint8)]
    image_vectors = clip.embed_images(images)
    text_vectors = clip.embed_texts(["a photo of a chair", "ball", ""])
    assert image_vectors.shape == (2, 16) and text_vectors.shape == (3, 16)
    assert image_vectors.dtype == np.float32 and text_vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(image_vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(text_vectors, axis=1), 1, atol=1e-5)
    assert clip.embed_images([]).shape == (0, 16)


def test_preprocess_follows_the_processor_config(clip):
    # size.shortest_edge 36, crop 32x32, mean 0.5, std 0.25 (see the fixture).
    pixels = clip.preprocess([np.full((40, 80, 3), 255, np.uint8)])
    assert pixels.shape == (1, 3, 32, 32)
    assert np.allclose(pixels.numpy(), (1 - 0.5) / 0.25)


def test_preprocess_matches_the_published_clip_processor(tiny_clip_dir, tmp_path):
    folder = shutil.copytree(tiny_clip_dir, tmp_path / "clip")
    (folder / "preprocessor_config.json").write_text(json.dumps(OPENAI_CLIP_B32))
    photo = np.random.default_rng(0).integers(0, 256, (1536, 2048, 3), dtype=np.uint8)
    pixels = ClipEmbedder(folder).preprocess([photo, photo[:, ::-1]])

    expected = CLIPImageProcessorPil(**OPENAI_CLIP_B32)(
        [Image.fromarray(photo), Image.fromarray(photo[:, ::-1])], return_tensors="pt"
    )["pixel_values"]
    np.testing.assert_allclose(pixels.numpy(), expected.numpy(), atol=1e-6)
    # By hand: bicubic resize of the shorter side to 224 (the longer to int(224 * 2048 / 1536)),
    # the central 224 x 224 window, OpenAI's mean and std.
    resized = np.asarray(Image.fromarray(photo).resize((298, 224), Image.BICUBIC), np.float64)
    window = resized[:, 37 : 37 + 224] / 255
    by_hand = ((window - OPENAI_CLIP_MEAN) / OPENAI_CLIP_STD).transpose(2, 0, 1)
    np.testing.assert_allclose(pixels[0].numpy(), by_hand, atol=1e-5)


def test_preprocess_without_a_processor_config_is_openai_clip_at_the_tower_size(
    tiny_clip_dir, tmp_path
):
    folder = shutil.copytree(tiny_clip_dir, tmp_path / "clip")
    (folder / "preprocessor_config.json").unlink()
    pixels = ClipEmbedder(folder).preprocess([np.full((40, 80, 3), 255, np.uint8)])
    assert pixels.shape == (1, 3, 32, 32)
    expected = (1 - np.array(OPENAI_CLIP_MEAN)) / OPENAI_CLIP_STD
    np.testing.assert_allclose(pixels[0, :, 0, 0].numpy(), expected, rtol=1e-5)


def test_batching_does_not_change_embeddings(tiny_clip_dir, clip):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    small_batches = ClipEmbedder(tiny_clip_dir, batch_size=2)
    assert np.allclose(small_batches.embed_images(images), clip.embed_images(images), atol=1e-5)


def test_tiny_clip_end_to_end(tmp_path, clip):
    gallery = build_builtin_gallery(clip, tmp_path, views=SMALL_VIEWS)
    assert gallery.embeddings.shape == (9, SMALL_VIEWS.num_views, 16)
    assert gallery.model_name == str(clip.model_name)
    gallery = Gallery.load(tmp_path / "builtin_gallery.npz")
    crop = np.full((60, 40, 3), 128, np.uint8)
    for matches, count in (
        (query(gallery, clip, image_crop=crop, k=4), 4),
        (query(gallery, clip, text=category_prompt("chair"), k=4), 4),
        (query(gallery, clip, image_crop=crop, text="a chair", k=20), 9),
    ):
        scores = [m.score for m in matches]
        assert len(matches) == count
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0001 <= s <= 1.0001 for s in scores)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(HoifitError, match="download_weights.py clip"):
        ClipEmbedder(tmp_path / "no_such_model")
