"""Procedural object meshes: everyday objects people interact with, built from primitives.

Every builder returns a watertight-per-part `trimesh.Trimesh` in its own frame: metres, y up,
resting on the plane y = 0, centred on the y axis, front towards +z. They feed the bundled example,
the synthetic scene generator and the built-in retrieval gallery. Each builder's defaults are
one typical instance; `random_instance_kwargs` draws the parameters of another instance of the
same category (the synthetic photo protocol delivers such a mesh, as retrieval would).
"""

from collections.abc import Callable

import numpy as np
import trimesh


def _box(extents, center) -> trimesh.Trimesh:
    return trimesh.creation.box(
        extents=extents, transform=trimesh.transformations.translation_matrix(center)
    )


def _y_cylinder(radius, height, base_y=0.0, x=0.0, z=0.0, sections=32) -> trimesh.Trimesh:
    """A cylinder along y whose bottom is at `base_y`."""
    cylinder = trimesh.creation.cylinder(radius=radius, height=height, sections=sections)
    turn = trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0])
    cylinder.apply_transform(turn)
    cylinder.apply_translation([x, base_y + height / 2, z])
    return cylinder


def _legs(half_x, half_z, height, radius=0.02) -> list[trimesh.Trimesh]:
    return [
        _y_cylinder(radius, height, x=sx * half_x, z=sz * half_z, sections=12)
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]


def stool(seat_height=0.45, radius=0.18) -> trimesh.Trimesh:
    """A round stool with four legs."""
    seat = _y_cylinder(radius, 0.04, base_y=seat_height - 0.04)
    legs = _legs(radius * 0.6, radius * 0.6, seat_height - 0.04)
    return trimesh.util.concatenate([seat, *legs])


def chair(seat_height=0.45, width=0.45, depth=0.42, back_height=0.45) -> trimesh.Trimesh:
    """A four-legged chair with a backrest at -z (someone sitting faces +z)."""
    seat = _box([width, 0.04, depth], [0, seat_height - 0.02, 0])
    back = _box([width, back_height, 0.04], [0, seat_height + back_height / 2, -depth / 2 + 0.02])
    legs = _legs(width / 2 - 0.03, depth / 2 - 0.03, seat_height - 0.04)
    return trimesh.util.concatenate([seat, back, *legs])


def bench(length=1.2, seat_height=0.45, depth=0.35) -> trimesh.Trimesh:
    """A long backless bench."""
    seat = _box([length, 0.05, depth], [0, seat_height - 0.025, 0])
    legs = _legs(length / 2 - 0.06, depth / 2 - 0.05, seat_height - 0.05, radius=0.03)
    return trimesh.util.concatenate([seat, *legs])


def table(height=0.74, width=1.0, depth=0.6) -> trimesh.Trimesh:
    """A four-legged table."""
    top = _box([width, 0.04, depth], [0, height - 0.02, 0])
    legs = _legs(width / 2 - 0.05, depth / 2 - 0.05, height - 0.04, radius=0.025)
    return trimesh.util.concatenate([top, *legs])


def box(extents=(0.4, 0.3, 0.3)) -> trimesh.Trimesh:
    """A cardboard-box-like cuboid."""
    return _box(extents, [0, extents[1] / 2, 0])


def bottle(height=0.25, radius=0.035) -> trimesh.Trimesh:
    """A bottle: body, shoulder and neck."""
    body = _y_cylinder(radius, height * 0.65)
    shoulder = _y_cylinder(radius * 0.7, height * 0.1, base_y=height * 0.65)
    neck = _y_cylinder(radius * 0.35, height * 0.25, base_y=height * 0.75)
    return trimesh.util.concatenate([body, shoulder, neck])


def cup(height=0.1, radius=0.04) -> trimesh.Trimesh:
    """A cup (closed cylinder) with a handle."""
    body = _y_cylinder(radius, height)
    handle = _box([0.01, height * 0.6, 0.015], [radius + 0.02, height / 2, 0])
    return trimesh.util.concatenate([body, handle])


def ball(radius=0.11) -> trimesh.Trimesh:
    """A ball (football size by default)."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    sphere.apply_translation([0, radius, 0])
    return sphere


def bat(length=0.85, radius=0.033) -> trimesh.Trimesh:
    """A baseball bat standing on its knob: handle below, barrel above."""
    handle = _y_cylinder(radius * 0.45, length * 0.45, sections=16)
    barrel = _y_cylinder(radius, length * 0.55, base_y=length * 0.45, sections=16)
    return trimesh.util.concatenate([handle, barrel])


OBJECTS: dict[str, Callable[[], trimesh.Trimesh]] = {
    "stool": stool,
    "chair": chair,
    "bench": bench,
    "table": table,
    "box": box,
    "bottle": bottle,
    "cup": cup,
    "ball": ball,
    "bat": bat,
}


INSTANCE_RANGES: dict[str, dict[str, tuple]] = {
    "stool": {"seat_height": (0.40, 0.75), "radius": (0.14, 0.22)},
    "chair": {
        "seat_height": (0.40, 0.50),
        "width": (0.38, 0.55),
        "depth": (0.36, 0.50),
        "back_height": (0.30, 0.60),
    },
    "bench": {"length": (0.8, 1.8), "seat_height": (0.40, 0.50), "depth": (0.28, 0.45)},
    "table": {"height": (0.65, 0.80), "width": (0.7, 1.6), "depth": (0.5, 0.9)},
    "box": {"extents": ((0.2, 0.15, 0.2), (0.8, 0.6, 0.6))},
    "bottle": {"height": (0.18, 0.35), "radius": (0.03, 0.045)},
    "cup": {"height": (0.08, 0.13), "radius": (0.035, 0.05)},
    "ball": {"radius": (0.08, 0.13)},
    "bat": {"length": (0.75, 0.95), "radius": (0.028, 0.038)},
}
"""Per category, (low, high) of each builder parameter over plausible instances, metres; a
tuple-valued parameter (a box's extents) has per-component bounds. Every default lies inside."""


def random_instance_kwargs(name: str, rng: np.random.Generator) -> dict:
    """Builder arguments of a random instance of a category, uniform in `INSTANCE_RANGES`.

    Args:
        name: an `OBJECTS` name.
        rng: random generator.

    Returns:
        {parameter: value}, values rounded to millimetres; pass them to `OBJECTS[name]`.
    """
    kwargs = {}
    for parameter, (low, high) in INSTANCE_RANGES[name].items():
        value = np.round(rng.uniform(low, high), 3)
        kwargs[parameter] = tuple(value.tolist()) if np.ndim(value) else float(value)
    return kwargs


def make_object(name: str) -> trimesh.Trimesh:
    """Build a procedural object by category name.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in OBJECTS:
        raise ValueError(f"unknown procedural object {name!r}; known: {', '.join(OBJECTS)}")
    return OBJECTS[name]()
