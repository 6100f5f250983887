from setuptools import find_packages, setup

setup(
    name="hoifit",
    version="0.1.0",
    description="3D human-object interaction from a single image: contact-guided joint fitting.",
    python_requires=">=3.10",
    license="Apache-2.0",
    packages=find_packages(
        include=["hoifit*", "contact*", "reconstruction*", "retrieval*", "perception*", "optim*"]
    ),
    package_data={"hoifit": ["configs/*.yaml"]},
    entry_points={"console_scripts": ["hoifit = hoifit.cli:main"]},
    install_requires=[
        # Install torch==2.13.0 first on a CPU-only machine (see the Makefile): an unpinned
        # torch pulls the CUDA build.
        "torch>=2.4",
        "numpy>=1.24",
        "scipy>=1.10",
        "smplx>=0.1.28",
        "anny>=0.6",
        "transformers>=5.0",
        "tokenizers>=0.20",
        "sentencepiece>=0.2",
        "psutil>=5.9",
        "peft>=0.13",
        "accelerate>=1.0",
        "huggingface_hub>=0.24",
        "trimesh>=4.0",
        # fast-simplification: quadric decimation (trimesh) for the body proxy.
        "fast-simplification>=0.1",
        # libigl: signed distances; embreex: ray casting through trimesh. Both are wheels, with
        # no system library to install.
        "libigl>=2.5",
        "embreex>=2.17",
        # joblib: reads InteractVLM's smpl_to_smplx.pkl, which was written with it.
        "joblib>=1.3",
        "pillow>=10.0",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={"test": ["pytest>=8.0", "ruff>=0.6"]},
)
