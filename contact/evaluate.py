"""Scoring predicted contact of annotated sample folders with the DAMON and PIAD metrics.

Ground truth per sample folder: `ground_truth.npz` (synthetic samples: body and object contact,
body backend) when present, else the folder's `contact.npz`. Predictions: a folder holding
`<sample name>/contact.npz` with `body_contact` (V,) and optionally `object_contact` (Vo,), as
`reconstruction.sample_io` writes it. A sample without ground truth or prediction is skipped and
counted. Body contact scores with `contact.metrics.damon_metrics` (geodesic error in cm on the
backend's rest-pose mesh, whose geodesic matrix is cached, see `contact.geodesic`); object
contact, where both sides have it, with `contact.metrics.piad_metrics`.
"""

from pathlib import Path

import numpy as np

from contact.geodesic import cached_geodesic_matrix
from contact.metrics import damon_metrics, piad_metrics
from reconstruction.errors import HoifitError
from reconstruction.sample_io import CONTACT_FILE, list_samples, read_ground_truth, read_sample


def body_geodesic_matrix(backend: str, dtype: str, model_dir: str | None = None) -> np.ndarray:
    """(V, V) geodesic distances in metres on `backend`'s rest-pose body mesh, cached on disk.

    `model_dir` is the SMPL-X / SMPL model folder (see `build_body_model`).
    """
    from reconstruction.body_models import build_body_model

    model = build_body_model(backend, model_dir=model_dir)
    vertices = model(model.zero_params(1)).vertices[0].detach().cpu().numpy()  # (V, 3)
    return cached_geodesic_matrix(vertices, model.faces.cpu().numpy(), dtype=np.dtype(dtype))


def ground_truth_contact(folder: Path) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """(body contact (V,), object contact (Vo,), body backend) of a sample; None where absent."""
    truth = read_ground_truth(folder)
    if truth is not None:
        return truth.body_contact, truth.object_contact, truth.body_backend
    contact = read_sample(folder).contact
    if contact is None:
        return None, None, None
    return contact.body_contact, contact.object_contact, contact.body_topology


def evaluate(
    samples_dir: Path,
    predictions_dir: Path,
    geodesic_dtype: str = "float16",
    body_model_dir: str | None = None,
) -> dict:
    """Collect ground truth and predictions of every sample and score them.

    Returns:
        {"damon": damon_metrics (+ "geodesic_error_cm") or None, "piad": piad_metrics or None,
        "skipped": names of samples without ground truth or prediction}.

    Raises:
        HoifitError: a malformed file, or body contact on several body backends.
    """
    body_preds, body_gts, object_preds, object_gts, skipped = [], [], [], [], []
    backends = set()
    for folder in list_samples(samples_dir):
        body_gt, object_gt, backend = ground_truth_contact(folder)
        path = predictions_dir / folder.name / CONTACT_FILE
        if (body_gt is None and object_gt is None) or not path.is_file():
            skipped.append(folder.name)
            continue
        with np.load(path) as prediction:
            prediction = dict(prediction)
        if body_gt is not None and "body_contact" in prediction:
            body_preds.append(prediction["body_contact"].reshape(-1))
            body_gts.append(body_gt)
            backends.add(backend)
        if object_gt is not None and "object_contact" in prediction:
            object_preds.append(prediction["object_contact"].reshape(-1))
            object_gts.append(object_gt)
    if len(backends) > 1:
        raise HoifitError(f"body contact on several body meshes {sorted(backends)}: split them")
    damon = None
    if body_preds:
        damon = damon_metrics(
            body_preds,
            body_gts,
            body_geodesic_matrix(backends.pop(), geodesic_dtype, body_model_dir),
        )
        damon["geodesic_error_cm"] = 100.0 * damon.pop("geodesic_error")
    piad = piad_metrics(object_preds, object_gts) if object_preds else None
    return {"damon": damon, "piad": piad, "skipped": skipped}
