# The tiny random perception models of tests/perception, for the registry and store tests.
from tests.perception.conftest import image, tiny_folders  # noqa: F401
