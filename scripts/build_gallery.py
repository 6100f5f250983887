"""Build an object-mesh retrieval gallery: multi-view renders of meshes, embedded with CLIP.

python scripts/build_gallery.py FOLDER [--out gallery.npz] [--model HUB_ID_OR_PATH] [--views N]
    [--builtin] [--device cpu]

FOLDER is searched recursively for .obj/.ply/.glb/.gltf/.off meshes; each mesh's category comes
from its file name (chair_01.obj -> chair) or, for generic names, its folder. With --builtin the
procedural objects are written as meshes into FOLDER and embedded instead.
"""

import argparse
import sys
from pathlib import Path

from reconstruction.errors import HoifitError
from retrieval.embedding import DEFAULT_CLIP_MODEL, ClipEmbedder
from retrieval.gallery import build_gallery, builtin_meshes
from retrieval.views import ViewConfig


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the gallery and save it; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("folder", help="folder of meshes (with --builtin: where to write them)")
    parser.add_argument("--out", default="gallery.npz", help="gallery file to write (.npz)")
    parser.add_argument("--model", default=DEFAULT_CLIP_MODEL, help="CLIP hub id or folder")
    parser.add_argument("--views", type=int, default=ViewConfig().num_views, help="views a mesh")
    parser.add_argument("--builtin", action="store_true", help="embed the procedural objects")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    args = parser.parse_args(argv)
    try:
        views = ViewConfig(num_views=args.views)
        embedder = ClipEmbedder(args.model, device=args.device)
        meshes = builtin_meshes(args.folder) if args.builtin else Path(args.folder)
        gallery = build_gallery(meshes, embedder, views=views, log=print)
        gallery.save(args.out)
    except (HoifitError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(gallery)} meshes x {views.num_views} views")
    return 0


if __name__ == "__main__":
    sys.exit(main())
