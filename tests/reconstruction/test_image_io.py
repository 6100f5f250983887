import numpy as np
import pytest
from PIL import Image

from reconstruction.camera import Camera
from reconstruction.camera_config import CameraConfig
from reconstruction.errors import HoifitError
from reconstruction.image_io import camera_for_image, find_image, fit_to_max_size, load_image


def test_grayscale_and_rgba_become_rgb(tmp_path):
    Image.new("L", (8, 6), 128).save(tmp_path / "gray.png")
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))
    rgba.save(tmp_path / "rgba.png")
    gray, _ = load_image(tmp_path / "gray.png")
    assert gray.shape == (6, 8, 3) and gray.dtype == np.uint8 and (gray == 128).all()
    transparent, _ = load_image(tmp_path / "rgba.png")
    assert (transparent == 255).all()  # fully transparent pixels composite to white


def test_exif_rotation_and_focal(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.putpixel((0, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif.get_ifd(0x8769)[41989] = 36
    image.save(tmp_path / "photo.jpg", exif=exif, quality=100)
    loaded, tags = load_image(tmp_path / "photo.jpg")
    assert loaded.shape == (40, 20, 3)
    assert loaded[0, -1].mean() > 128  # the top-left corner went to the top-right
    cam = camera_for_image(20, 40, tags, CameraConfig())
    assert cam.fx == pytest.approx(40.0)


def test_camera_priority():
    exif = {41989: 36}
    assert camera_for_image(100, 50, exif, CameraConfig(focal_px=7.0)).fx == 7.0
    assert camera_for_image(100, 50, exif, CameraConfig(fov_deg=90.0)).fx == pytest.approx(50.0)
    assert camera_for_image(100, 50, {}, CameraConfig()) == Camera.default(100, 50)


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_unreadable_images(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(HoifitError, match="broken.jpg"):
        load_image(path)
    with pytest.raises(HoifitError, match="does not exist"):
        load_image(tmp_path / "missing.jpg")


def test_large_image_downscaled_with_intrinsics(tmp_path):
    image = np.zeros((1000, 2000, 3), np.uint8)
    cam = Camera.from_focal(1500.0, 2000, 1000)
    small, small_cam = fit_to_max_size(image, cam, 500)
    assert small.shape == (250, 500, 3)
    assert (small_cam.width, small_cam.height) == (500, 250)
    assert small_cam.fx == pytest.approx(375.0)
    same, same_cam = fit_to_max_size(image, cam, 4000)
    assert same is image and same_cam is cam


def test_find_image(tmp_path):
    assert find_image(tmp_path) is None
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    assert find_image(tmp_path).name == "a.png"
    Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
    with pytest.raises(HoifitError, match="several images"):
        find_image(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "image.jpg")
    assert find_image(tmp_path).name == "image.jpg"
