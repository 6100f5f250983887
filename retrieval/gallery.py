"""Object-mesh galleries: multi-view embeddings of meshes in one .npz, queried by crop or text.

A gallery embeds V renders (see `retrieval.views`) of each of M meshes with an embedder (any
object with `embed_images` and `embed_texts`, e.g. `retrieval.embedding.ClipEmbedder`).

Scoring (`query`): with unit embeddings, cosine similarity is a dot product.
- Image crop: the crop shows the object from one viewpoint, so a mesh scores the maximum over its
  views of cos(crop, view).
- Text: a description holds for every viewpoint, so a mesh scores the mean over its views of
  cos(text, view).
- Both: score = (1 - text_weight) * image score + text_weight * text score. CLIP's image-text
  cosines are smaller than its image-image ones (about 0.3 against 0.8), so with the default
  text_weight = 0.5 the crop dominates and the text breaks ties between similar shapes.
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reconstruction.atomic_io import atomic_write_npz, atomic_write_text
from reconstruction.errors import HoifitError
from reconstruction.object_model import MESH_SUFFIXES, load_object_mesh
from reconstruction.procedural_objects import OBJECTS, make_object
from retrieval.embedding import Embedder
from retrieval.views import ViewConfig, render_views

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the .npz layout written by `Gallery.save`."""

TEXT_PROMPT = "a photo of a {}"
"""Template that turns a category name into a text query (see `category_prompt`)."""

GENERIC_STEMS = {"object", "mesh", "model", "model_normalized", "obj", "scan", "textured"}
"""File stems that say nothing about the category: the parent folder names it instead."""

_KEYS = ("format_version", "embeddings", "paths", "categories", "sizes", "views", "model_name")


class GalleryError(HoifitError, ValueError):
    """A gallery file or gallery input that cannot be used; the message says how to fix it."""


@dataclass(eq=False)
class Gallery:
    """Embedded multi-view renders of M meshes.

    Attributes:
        embeddings: (M, V, D) float32, unit rows: embedding of view v of mesh m.
        paths: M mesh file paths, as given when the gallery was built.
        categories: M category names.
        sizes: (M, 3) float32 bounding-box extents of each mesh in its own units (x, y, z).
        views: the cameras the views were rendered with.
        model_name: name of the embedding model ("" when unknown); queries warn on a mismatch.
    """

    embeddings: np.ndarray
    paths: list[str]
    categories: list[str]
    sizes: np.ndarray
    views: ViewConfig
    model_name: str = ""

    def __post_init__(self):
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        self.sizes = np.asarray(self.sizes, dtype=np.float32)
        self.paths = [str(p) for p in self.paths]
        self.categories = [str(c) for c in self.categories]
        count = len(self.paths)
        if self.embeddings.ndim != 3 or self.embeddings.shape[0] != count:
            raise GalleryError(
                f"gallery embeddings must be (M, V, D) with M = {count} meshes, "
                f"got shape {self.embeddings.shape}"
            )
        if self.embeddings.shape[1] != self.views.num_views:
            raise GalleryError(
                f"gallery embeddings hold {self.embeddings.shape[1]} views but the view config "
                f"says {self.views.num_views}"
            )
        if len(self.categories) != count or self.sizes.shape != (count, 3):
            raise GalleryError(
                f"gallery of {count} meshes has {len(self.categories)} categories and sizes of "
                f"shape {self.sizes.shape}; expected {count} and ({count}, 3)"
            )
        if not np.isfinite(self.embeddings).all() or not np.isfinite(self.sizes).all():
            raise GalleryError("gallery embeddings or sizes hold NaN or infinite values")

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def dim(self) -> int:
        """D, the embedding size."""
        return self.embeddings.shape[2]

    def save(self, path) -> None:
        """Write the gallery as one uncompressed .npz, atomically.

        Keys: format_version, embeddings (M, V, D) float32, paths (M,) str, categories (M,) str,
        sizes (M, 3) float32, views (a JSON string of `ViewConfig`), model_name str.
        """
        atomic_write_npz(
            Path(path),
            {
                "format_version": np.int64(FORMAT_VERSION),
                "embeddings": self.embeddings,
                "paths": np.asarray(self.paths, dtype=np.str_).reshape(-1),
                "categories": np.asarray(self.categories, dtype=np.str_).reshape(-1),
                "sizes": self.sizes,
                "views": np.str_(json.dumps(self.views.__dict__)),
                "model_name": np.str_(self.model_name),
            },
        )

    @classmethod
    def load(cls, path) -> "Gallery":
        """Read a gallery written by `save`.

        Raises:
            GalleryError: missing file, not an .npz, missing keys, other format version, or
                arrays whose shapes disagree.
        """
        path = Path(path)
        fix = f"rebuild it with `python scripts/build_gallery.py` (file: {path})"
        if not path.is_file():
            raise GalleryError(
                f"gallery file {path} not found; build one with scripts/build_gallery.py"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in _KEYS if key not in data.files]
                if missing:
                    raise GalleryError(f"gallery file lacks {', '.join(missing)}; {fix}")
                arrays = {key: data[key] for key in _KEYS}
        except GalleryError:
            raise
        except Exception as error:  # numpy raises many types for a file that is not an npz
            raise GalleryError(f"cannot read the gallery file ({error}); {fix}") from error
        if int(arrays["format_version"]) != FORMAT_VERSION:
            raise GalleryError(
                f"gallery format version {int(arrays['format_version'])} is not the supported "
                f"{FORMAT_VERSION}; {fix}"
            )
        try:
            views = ViewConfig(**json.loads(str(arrays["views"])))
        except (TypeError, ValueError) as error:
            raise GalleryError(f"gallery view settings are invalid ({error}); {fix}") from error
        try:
            return cls(
                embeddings=arrays["embeddings"],
                paths=arrays["paths"].reshape(-1).tolist(),
                categories=arrays["categories"].reshape(-1).tolist(),
                sizes=arrays["sizes"],
                views=views,
                model_name=str(arrays["model_name"]),
            )
        except GalleryError as error:
            raise GalleryError(f"{error}; {fix}") from error


@dataclass(frozen=True)
class Match:
    """One retrieved mesh.

    Attributes:
        path: the mesh file.
        category: its category.
        score: similarity to the query (higher is better; see the module docstring).
        index: its row in the gallery.
        size: (3,) bounding-box extents in the mesh's units.
    """

    path: str
    category: str
    score: float
    index: int
    size: tuple[float, float, float]


def category_from_path(path) -> str:
    """Guess a mesh's category from its file name, else from its folder.

    `chair_01.obj` -> "chair", `Office-Chair-3.ply` -> "office-chair", `chair/object.obj` ->
    "chair", `table/0042.obj` -> "table". Lower case; a trailing number and its separator are
    dropped.
    """
    path = Path(path)
    stem = re.sub(r"[_\-\s.]*\d+$", "", path.stem.lower()).strip("_- .")
    if stem and stem not in GENERIC_STEMS:
        return stem
    parent = re.sub(r"[_\-\s.]*\d+$", "", path.parent.name.lower()).strip("_- .")
    return parent or stem or path.stem.lower()


def find_meshes(folder) -> list[Path]:
    """Mesh files (see `MESH_SUFFIXES`) anywhere under a folder, sorted by path.

    Raises:
        GalleryError: the folder does not exist or holds no mesh.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GalleryError(f"mesh folder {folder} not found; check the path")
    paths = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MESH_SUFFIXES
    )
    if not paths:
        raise GalleryError(f"no mesh files ({', '.join(MESH_SUFFIXES)}) under {folder}")
    return paths


def build_gallery(
    meshes,
    embedder: Embedder,
    views: ViewConfig | None = None,
    categories: list[str] | None = None,
    model_name: str | None = None,
    log=None,
) -> Gallery:
    """Render each mesh from the gallery views and embed the renders.

    Args:
        meshes: a folder (searched recursively, see `find_meshes`) or a list of mesh files.
        embedder: any object with `embed_images` ((N, H, W, 3) uint8 list -> (N, D) unit rows).
        views: cameras and look of the renders; `ViewConfig()` when None.
        categories: one per mesh; guessed from the paths (`category_from_path`) when None.
        model_name: stored with the gallery; the embedder's `model_name` attribute when None.
        log: optional callable taking a progress line.

    Returns:
        The gallery, embeddings (M, V, D).

    Raises:
        GalleryError: no meshes, categories of the wrong length, or an embedder returning
            arrays of the wrong shape.
        MeshError: a mesh that cannot be read.
    """
    views = views or ViewConfig()
    if isinstance(meshes, (str, Path)):
        paths = find_meshes(meshes)
    else:
        paths = [Path(p) for p in meshes]
    if not paths:
        raise GalleryError("build_gallery needs at least one mesh file")
    if categories is None:
        categories = [category_from_path(p) for p in paths]
    elif len(categories) != len(paths):
        raise GalleryError(f"{len(categories)} categories given for {len(paths)} meshes")
    embeddings, sizes = [], []
    for number, path in enumerate(paths, start=1):
        mesh = load_object_mesh(path)
        sizes.append(mesh.vertices.max(0) - mesh.vertices.min(0))
        vectors = np.asarray(embedder.embed_images(render_views(mesh.vertices, mesh.faces, views)))
        if vectors.ndim != 2 or vectors.shape[0] != views.num_views:
            raise GalleryError(
                f"the embedder returned shape {vectors.shape} for {views.num_views} images; "
                "expected (N, D)"
            )
        embeddings.append(vectors)
        if log:
            log(f"[{number}/{len(paths)}] {path} ({categories[number - 1]})")
    if model_name is None:
        model_name = str(getattr(embedder, "model_name", ""))
    return Gallery(
        embeddings=np.stack(embeddings),
        paths=[str(p) for p in paths],
        categories=categories,
        sizes=np.stack(sizes),
        views=views,
        model_name=model_name,
    )


def category_prompt(category: str) -> str:
    """The text query for a category: `TEXT_PROMPT` filled in, e.g. "a photo of a chair"."""
    return TEXT_PROMPT.format(category)


def score_gallery(
    embeddings: np.ndarray,
    image_embedding: np.ndarray | None = None,
    text_embedding: np.ndarray | None = None,
    text_weight: float = 0.5,
) -> np.ndarray:
    """Per-mesh scores of a query against multi-view embeddings (see the module docstring).

    Args:
        embeddings: (M, V, D) unit view embeddings.
        image_embedding: (D,) unit embedding of the image crop, or None.
        text_embedding: (D,) unit embedding of the text, or None.
        text_weight: weight of the text score when both are given, in [0, 1].

    Returns:
        (M,) float64 scores, higher is better.

    Raises:
        ValueError: neither query, or a text_weight outside [0, 1].
    """
    if image_embedding is None and text_embedding is None:
        raise ValueError("score_gallery needs an image embedding, a text embedding or both")
    if not 0 <= text_weight <= 1:
        raise ValueError(f"text_weight must lie in [0, 1], got {text_weight}")
    embeddings = np.asarray(embeddings, dtype=np.float64)
    scores = []
    if image_embedding is not None:
        image_score = (embeddings @ np.asarray(image_embedding, np.float64)).max(axis=1)  # (M,)
        scores.append((1 - text_weight if text_embedding is not None else 1.0, image_score))
    if text_embedding is not None:
        text_score = (embeddings @ np.asarray(text_embedding, np.float64)).mean(axis=1)  # (M,)
        scores.append((text_weight if image_embedding is not None else 1.0, text_score))
    return sum(weight * score for weight, score in scores)


def query(
    gallery: Gallery,
    embedder: Embedder,
    image_crop: np.ndarray | None = None,
    text: str | None = None,
    k: int = 5,
    text_weight: float = 0.5,
) -> list[Match]:
    """The k meshes of a gallery most similar to an image crop, a text, or both.

    Args:
        gallery: the gallery to search.
        embedder: the model the gallery was built with (same embedding space).
        image_crop: (H, W, 3) uint8 RGB crop around the object, or None.
        text: a description such as `category_prompt("chair")`, or None.
        k: number of matches returned (fewer when the gallery is smaller).
        text_weight: weight of the text score when both queries are given, in [0, 1].

    Returns:
        Up to k matches, best first (ties keep gallery order).

    Raises:
        GalleryError: neither crop nor text, an empty gallery, k < 1, or an embedder whose
            embedding size differs from the gallery's.
    """
    if image_crop is None and text is None:
        raise GalleryError("query needs an image crop, a text or both")
    if k < 1:
        raise GalleryError(f"query needs k >= 1, got {k}")
    if len(gallery) == 0:
        raise GalleryError("the gallery is empty; build it from at least one mesh")
    name = str(getattr(embedder, "model_name", ""))
    if gallery.model_name and name and name != gallery.model_name:
        logger.warning(
            "gallery built with %s but queried with %s; scores may be meaningless",
            gallery.model_name,
            name,
        )
    image_embedding = text_embedding = None
    if image_crop is not None:
        image_embedding = _single(embedder.embed_images([np.asarray(image_crop)]), gallery.dim)
    if text is not None:
        text_embedding = _single(embedder.embed_texts([text]), gallery.dim)
    try:
        scores = score_gallery(gallery.embeddings, image_embedding, text_embedding, text_weight)
    except ValueError as error:
        raise GalleryError(str(error)) from error
    order = np.argsort(-scores, kind="stable")[:k]
    return [
        Match(
            path=gallery.paths[i],
            category=gallery.categories[i],
            score=float(scores[i]),
            index=int(i),
            size=tuple(float(x) for x in gallery.sizes[i]),
        )
        for i in order
    ]


def _single(vectors, dim: int) -> np.ndarray:
    """The one (D,) row of an embedder's (1, D) answer, checked against the gallery's D."""
    vectors = np.asarray(vectors)
    if vectors.shape != (1, dim):
        raise GalleryError(
            f"the embedder gives embeddings of shape {vectors.shape[1:]} but the gallery holds "
            f"size {dim}; query with the model the gallery was built with"
        )
    return vectors[0]


def write_obj(path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write a triangle mesh as a minimal OBJ (positions and faces), atomically.

    Args:
        path: destination .obj.
        vertices: (N, 3) coordinates.
        faces: (F, 3) 0-based vertex indices.
    """
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(vertices, dtype=np.float64)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces, dtype=np.int64)]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def builtin_meshes(out_dir) -> list[Path]:
    """Write the procedural objects (`reconstruction.procedural_objects.OBJECTS`) as .obj files.

    Args:
        out_dir: folder to write `<category>.obj` files into (created if needed).

    Returns:
        The written paths, in `OBJECTS` order.
    """
    out_dir = Path(out_dir)
    paths = []
    for name in OBJECTS:
        mesh = make_object(name)
        path = out_dir / f"{name}.obj"
        write_obj(path, mesh.vertices, mesh.faces)
        paths.append(path)
    return paths


def build_builtin_gallery(
    embedder: Embedder, cache_dir, views: ViewConfig | None = None, log=None
) -> Gallery:
    """The gallery of the procedural objects, cached in a folder.

    The meshes go to `cache_dir/meshes/` and the gallery to `cache_dir/builtin_gallery.npz`. A
    cached gallery is reused when it was built with the same model name, views and meshes;
    otherwise it is rebuilt and overwritten.

    Args:
        embedder: the embedding model.
        cache_dir: folder for the meshes and the gallery file.
        views: cameras of the renders; `ViewConfig()` when None.
        log: optional callable taking a progress line.

    Returns:
        The gallery, one mesh per procedural category.
    """
    views = views or ViewConfig()
    cache_dir = Path(cache_dir)
    paths = builtin_meshes(cache_dir / "meshes")
    gallery_path = cache_dir / "builtin_gallery.npz"
    model_name = str(getattr(embedder, "model_name", ""))
    if gallery_path.is_file():
        try:
            cached = Gallery.load(gallery_path)
        except GalleryError as error:
            logger.warning("rebuilding the built-in gallery: %s", error)
        else:
            if (
                cached.views == views
                and cached.model_name == model_name
                and cached.paths == [str(p) for p in paths]
            ):
                return cached
    gallery = build_gallery(paths, embedder, views=views, categories=list(OBJECTS), log=log)
    gallery.save(gallery_path)
    return gallery
