from retrieval.gallery import Gallery
from scripts.build_gallery import main


def test_builtin_gallery_from_the_command_line(tmp_path, tiny_clip_dir):
    out = tmp_path / "gallery.npz"
    argv = [str(tmp_path / "meshes"), "--builtin", "--out", str(out), "--views", "2"]
    assert main([*argv, "--model", str(tiny_clip_dir)]) == 0
    gallery = Gallery.load(out)
    assert gallery.embeddings.shape == (9, 2, 16) and "chair" in gallery.categories


def test_missing_model_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no_clip"
    assert main([str(tmp_path), "--model", str(missing)]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and str(missing) in error and "download_weights.py clip" in error
