"""Time the differentiable renderer on the scene it is built for: a body and a hand-held object.

The Anny body (27,420 faces) in its rest pose, about 200 px tall in a 256x256 image, and a
2,000-face cylinder held beside it and partly in front of it. Reports medians over repeated runs:

- silhouette_fwd_bwd_ms: `soft_silhouettes` of both meshes (their soft silhouettes and the hard
  front-mesh map), then backward of a loss on the silhouettes.
- depth_fwd_bwd_ms: `rasterize` of both meshes together, then backward of a loss on the depth.
- raycast_ms: an independent hard render of the same scene by embree (trimesh's ray intersector),
  forward only, one ray per pixel centre, including building its acceleration structure (which
  an optimization loop would rebuild every step, since the meshes move).
- peak_mem_mb: the most extra memory the silhouette and depth passes hold at once. On CUDA,
  torch.cuda.max_memory_allocated above what was allocated before; on CPU (Linux), the process's
  peak resident set (VmHWM in /proc/self/status, reset through /proc/self/clear_refs) above the
  resident set before (VmRSS), measured on the first calls after trimming the heap, which also
  counts allocator overhead and first-call initialization.

Usage: python scripts/benchmark_render.py [--device cpu] [--sigma 0.3] [--json out.json]
"""

import argparse
import ctypes
import json
import math
import statistics
import time

import numpy as np
import torch
import trimesh
from trimesh.ray.ray_pyembree import RayMeshIntersector

from reconstruction.body_models import build_body_model
from reconstruction.camera import Camera
from reconstruction.rasterizer import join_meshes, rasterize
from reconstruction.soft_silhouette import DEFAULT_SIGMA, soft_silhouettes

IMAGE_SIZE = 256
BODY_HEIGHT_PX = 200


def build_scene(device: torch.device) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], Camera]:
    """Body and cylinder in the camera frame, and the camera that sees the body 200 px tall."""
    body_model = build_body_model("anny", device=device)
    with torch.no_grad():
        out = body_model(body_model.zero_params())
    # Body frame: y up, facing +z. Turn it about x to face the camera (OpenCV: y down, z forward).
    body = out.vertices * torch.tensor([1.0, -1.0, -1.0], device=device)
    camera = Camera.default(IMAGE_SIZE, IMAGE_SIZE)
    height = (body[0, :, 1].max() - body[0, :, 1].min()).item()
    distance = camera.fy * height / BODY_HEIGHT_PX
    body = body - body[0].mean(0) + torch.tensor([0.0, 0.0, distance], device=device)

    cylinder = trimesh.creation.cylinder(radius=0.06, height=0.35, sections=500)  # 2,000 faces
    cylinder.apply_transform(trimesh.transformations.rotation_matrix(1.2, [1.0, 0.3, 0.0]))
    cylinder.apply_translation([0.3, 0.05, distance - 0.25])
    object_verts = torch.tensor(cylinder.vertices, dtype=torch.float32, device=device)[None]
    object_faces = torch.tensor(cylinder.faces, device=device)
    return [(body, out.faces.to(device)), (object_verts, object_faces)], camera


def median_ms(fn, device: torch.device, repeats: int) -> float:
    """Median wall time of fn() in milliseconds, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_extra_memory_mb(fns, device: torch.device) -> float:
    """Most memory held at once by the calls, above what was held before them.

    Run it before any other rendering: on CPU, memory that the allocator freed but kept would
    hide the calls' own use, so the heap is trimmed first (glibc's malloc_trim).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        for fn in fns:
            fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before = _proc_status_mb("VmRSS")
    for fn in fns:
        fn()
    return _proc_status_mb("VmHWM") - before


def main() -> None:
    """Parse the arguments, build the scene, time each renderer, print (and save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sigma", type=float, default=DEFAULT_SIGMA, help="px^2")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    device = torch.device(args.device)

    meshes, camera = build_scene(device)
    K = camera.K(device=device)
    image_size = (camera.height, camera.width)
    leaves = [(v.clone().requires_grad_(True), f) for v, f in meshes]
    joined_verts, joined_faces, _ = join_meshes(meshes)
    joined_verts = joined_verts.clone().requires_grad_(True)

    def silhouette_step():
        result = soft_silhouettes(leaves, K, image_size, args.sigma)
        result.per_mesh.sum().backward()

    def depth_step():
        rasterize(joined_verts, joined_faces, K, image_size).depth.sum().backward()

    verts_np = joined_verts[0].detach().cpu().numpy()
    faces_np = joined_faces.cpu().numpy()
    ys, xs = np.mgrid[: camera.height, : camera.width]
    directions = np.stack(
        [(xs - camera.cx) / camera.fx, (ys - camera.cy) / camera.fy, np.ones(xs.shape)], -1
    ).reshape(-1, 3)
    origins = np.zeros_like(directions)

    def raycast_step():
        mesh = trimesh.Trimesh(verts_np, faces_np, process=False)
        intersector = RayMeshIntersector(mesh)
        intersector.intersects_first(origins, directions)

    peak_mem_mb = peak_extra_memory_mb([silhouette_step, depth_step], device)
    figures = {
        "silhouette_fwd_bwd_ms": median_ms(silhouette_step, device, args.repeats),
        "depth_fwd_bwd_ms": median_ms(depth_step, device, args.repeats),
        "raycast_ms": median_ms(raycast_step, device, args.repeats),
        "peak_mem_mb": peak_mem_mb,
    }
    body_faces, object_faces = (len(f) for _, f in meshes)
    body_rows = rasterize(*meshes[0], K, image_size).mask[0].any(1).nonzero()
    body_px = (body_rows.max() - body_rows.min() + 1).item()
    print(
        f"scene: body {body_faces} faces, object {object_faces} faces, {image_size[0]}x"
        f"{image_size[1]} px, body {body_px} px tall; sigma {args.sigma} px^2 "
        f"(reach {3 * math.sqrt(args.sigma):.2f} px); device {device}, "
        f"{torch.get_num_threads()} threads"
    )
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**figures, "sigma": args.sigma, "device": str(device)}, f, indent=2)


if __name__ == "__main__":
    main()
