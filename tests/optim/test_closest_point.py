import igl
import numpy as np
import torch
import trimesh

from optim.losses.closest_point import (
    FixedMesh,
    closest_points_on_mesh,
    triangle_barycentrics,
    vertex_face_rings,
)


def test_barycentrics_match_a_dense_search_over_the_triangle():
    generator = torch.Generator().manual_seed(0)
    triangles = torch.randn(200, 3, 3, generator=generator, dtype=torch.float64)
    points = 2 * torch.randn(200, 3, generator=generator, dtype=torch.float64)
    bary = triangle_barycentrics(points, triangles)
    assert (bary >= 0).all()
    torch.testing.assert_close(bary.sum(-1), torch.ones(200, dtype=torch.float64))
    closest = (bary[..., None] * triangles).sum(-2)
    ours = (points - closest).norm(dim=-1)
    # Reference: the nearest of a dense barycentric grid; ours may only be closer, by little.
    steps = torch.linspace(0, 1, 201, dtype=torch.float64)
    u, v = torch.meshgrid(steps, steps, indexing="ij")
    keep = u + v <= 1
    grid = torch.stack((1 - u[keep] - v[keep], u[keep], v[keep]), -1)  # (G, 3)
    samples = grid @ triangles  # (200, G, 3)
    reference = (points[:, None] - samples).norm(dim=-1).min(1).values
    assert (ours <= reference + 1e-12).all()
    edge = (triangles - triangles.roll(1, 1)).norm(dim=-1).max(1).values
    assert (reference - ours <= edge / 200).all()


def test_barycentrics_of_degenerate_triangles_are_finite():
    points = torch.tensor([[0.3, 1.0, 0.0], [5.0, 0.0, 0.0]])
    triangles = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], [[1.0, 1, 1]] * 3])
    bary = triangle_barycentrics(points, triangles)
    assert torch.isfinite(bary).all()
    closest = (bary[..., None] * triangles).sum(-2)
    torch.testing.assert_close(closest[0], torch.tensor([0.3, 0.0, 0.0]))


def test_vertex_face_rings_list_each_face_at_its_corners():
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 4, 4]])
    rings = vertex_face_rings(faces, 6)
    assert rings.shape == (6, 3)
    for vertex in range(6):
        expected = sorted({f for f in range(3) if vertex in faces[f].tolist()})
        assert sorted({int(f) for f in rings[vertex] if f >= 0}) == expected


def test_closest_points_match_libigl_near_a_sphere():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    vertices = torch.tensor(sphere.vertices, dtype=torch.float64)[None]
    faces = torch.tensor(sphere.faces)
    generator = torch.Generator().manual_seed(2)
    directions = torch.nn.functional.normalize(
        torch.randn(1, 300, 3, generator=generator, dtype=torch.float64), dim=-1
    )
    radii = 0.5 + 0.1 * torch.randn(1, 300, 1, generator=generator, dtype=torch.float64)
    points = directions * radii
    for max_distance in (None, 0.2):
        closest, face, _ = closest_points_on_mesh(
            points, vertices, faces, max_distance=max_distance
        )
        squared, _, _ = igl.point_mesh_squared_distance(
            points[0].numpy(), sphere.vertices, sphere.faces
        )
        near = np.sqrt(squared) < 0.2
        ours = (points - closest).norm(dim=-1)[0].numpy()
        np.testing.assert_allclose(ours[near], np.sqrt(squared)[near], atol=1e-9)
    # A fixed mesh searches all of it, once indexed, in batches of points.
    closest, face, bary = FixedMesh(vertices[0], faces).closest_points(points.expand(2, -1, -1))
    assert closest.shape == (2, 300, 3) and face.shape == (2, 300) and bary.shape == (2, 300, 3)
    ours = (points - closest).norm(dim=-1)[1].numpy()
    np.testing.assert_allclose(ours, np.sqrt(squared), atol=1e-9)


def test_closest_point_distance_gradcheck():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0)).subdivide()
    vertices = torch.tensor(box.vertices, dtype=torch.float64)[None].requires_grad_()
    faces = torch.tensor(box.faces)
    points = torch.tensor(
        [[[0.2, 0.1, 0.7], [0.1, -0.3, 0.35], [0.8, 0.7, 0.1]]],
        dtype=torch.float64,
        requires_grad=True,
    )

    def distance(p, v):
        closest, _, _ = closest_points_on_mesh(p, v, faces)
        return (p - closest).norm(dim=-1)

    assert torch.autograd.gradcheck(distance, (points, vertices))
