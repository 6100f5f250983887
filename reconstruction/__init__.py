"""The scene: body models, object model, camera, renderer, sample-folder I/O and exports."""
