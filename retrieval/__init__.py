"""Object-mesh galleries and retrieval by image crop or text."""
