"""The layering: the kernel imports no stage, a stage no other stage; only hoifit composes."""

from pathlib import Path

from scripts.import_graph import main, package_imports, violations

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_breaks_the_layering(capsys):
    assert main(["--root", str(ROOT)]) == 0
    assert "reconstruction  -> (nothing)" in capsys.readouterr().out


def test_a_kernel_import_of_a_stage_is_reported(tmp_path):
    for package in ("hoifit", "reconstruction", "perception", "retrieval", "contact", "optim"):
        (tmp_path / package).mkdir()
    (tmp_path / "reconstruction" / "bad.py").write_text("from optim.fitter import fit\n")
    (tmp_path / "perception" / "worse.py").write_text("import contact.model\n")
    (tmp_path / "hoifit" / "fine.py").write_text("import optim, contact\n")
    broken = violations(package_imports(tmp_path))
    assert broken == [
        "perception/worse.py:1: perception imports contact",
        "reconstruction/bad.py:1: reconstruction imports optim",
    ]
