"""Coarse proxies of meshes: made of their own vertices, drawing nearly the same silhouette."""

import math

import numpy as np
import torch
import trimesh

from reconstruction.camera import Camera
from reconstruction.proxy import body_proxy, mesh_proxy, snap_to_vertices
from reconstruction.rasterizer import rasterize
from reconstruction.soft_silhouette import soft_silhouette


def test_snapping_a_coarse_copy_gives_back_its_vertices():
    coarse = trimesh.creation.icosphere(subdivisions=1)
    fine = coarse.subdivide()  # keeps the coarse vertices first, adds edge midpoints
    index, faces = snap_to_vertices(fine.vertices, coarse.vertices * 1.001, coarse.faces)
    np.testing.assert_array_equal(index, np.arange(len(coarse.vertices)))
    assert len(faces) == len(coarse.faces)
    # The same triangles, in some order.
    got = {tuple(sorted(face)) for face in index[faces].tolist()}
    assert got == {tuple(sorted(face)) for face in coarse.faces.tolist()}


def test_degenerate_and_repeated_faces_are_dropped():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    coarse = vertices + 0.01
    faces = np.array([[0, 1, 2], [2, 1, 0], [0, 0, 3], [1, 3, 2]])
    index, proxy = snap_to_vertices(vertices, coarse, faces)
    assert len(proxy) == 2 and set(index) == {0, 1, 2, 3}


def test_anny_proxy_silhouette_matches_the_mesh(anny):
    index, faces = body_proxy(anny, 6000)
    assert 5000 <= len(faces) <= 6000 and index.max() < anny.num_vertices
    assert body_proxy(anny, 6000)[0] is index  # built once
    params = anny.zero_params(1)
    params.global_orient = torch.tensor([[math.pi, 0.0, 0.0]])
    params.transl = torch.tensor([[0.0, 0.0, 2.2]])
    vertices = anny(params).vertices.detach().requires_grad_(True)
    K = Camera.from_fov(55.0, 128, 128).K()
    full = rasterize(vertices.detach(), anny.faces, K, (128, 128)).mask[0]
    coarse = rasterize(vertices.detach()[:, index], faces, K, (128, 128)).mask[0]
    assert (full & coarse).sum() / (full | coarse).sum() > 0.97
    soft_silhouette(vertices[:, index], faces, K, (128, 128), 0.5).sum().backward()
    moved = vertices.grad.abs().sum(-1)[0] > 0
    assert moved[index].any() and not moved[np.setdiff1d(np.arange(anny.num_vertices), index)].any()


def test_object_proxy_draws_the_mesh_with_fewer_faces():
    mesh = trimesh.creation.icosphere(subdivisions=5)  # 20480 faces
    mesh.apply_scale([0.3, 0.15, 0.1])
    index, faces = mesh_proxy(mesh.vertices, mesh.faces, 1000)
    assert len(faces) <= 1100 and faces.max() < len(index)
    K = Camera.from_fov(55.0, 128, 128).K()
    rotation = torch.tensor(trimesh.transformations.rotation_matrix(0.6, [1, 0, 0])[:3, :3])
    posed = (torch.tensor(mesh.vertices) @ rotation.T + torch.tensor([0.0, 0.0, 1.2])).float()
    full = rasterize(posed[None], torch.tensor(mesh.faces), K, (128, 128)).mask[0]
    coarse = rasterize(posed[None, index], torch.tensor(faces), K, (128, 128)).mask[0]
    assert (full & coarse).sum() / (full | coarse).sum() > 0.97


def test_a_mesh_within_the_face_count_is_its_own_proxy():
    mesh = trimesh.creation.box()
    for count in (0, 12, 100):
        index, faces = mesh_proxy(mesh.vertices, mesh.faces, count)
        np.testing.assert_array_equal(index, np.arange(8))
        np.testing.assert_array_equal(faces, mesh.faces)
