# framework-advisor: the service with every framework it measures, as a non-root user.
#
# CPU image (the default base, PyTorch's CPU wheels):
#   docker build -t framework-advisor .
# NVIDIA GPU image: an NVIDIA CUDA base plus PyTorch's wheel index for the same CUDA release
# (whl/cu126 for CUDA 12.6, whl/cu128 for 12.8, whl/cu130 for 13.0); the wheels bring their own CUDA
# libraries, so the small "base" flavour is enough:
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04 \
#                --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t framework-advisor:cuda .
#   docker run --gpus all -p 8000:8000 -e FRAMEWORK_ADVISOR_TOKEN=... framework-advisor:cuda
# JAX and TensorFlow stay CPU builds in both images (README, "Container image").
# With no Docker engine: scripts/podman_image.sh builds and runs this file with podman.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRAMEWORK_ADVISOR_DATA_DIR=/data \
    PATH=/opt/venv/bin:$PATH

# A base without pip (the NVIDIA CUDA images) gets its distribution's python3 in /opt/venv, which is
# first on PATH. Its version is whatever that base release ships, so the packages are not pinned here;
# on the default base this step does nothing.
# hadolint ignore=DL3008
RUN if ! command -v pip >/dev/null 2>&1; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/* \
        && python3 -m venv /opt/venv; \
    fi

RUN groupadd --system --gid 10001 advisor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin advisor \
    && mkdir -p /app /data \
    && chown advisor:advisor /data

WORKDIR /app
# Torch first, from the index that matches the base image (the PyPI default is a multi-GB CUDA build).
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0
COPY pyproject.toml constraints.txt README.md openapi.yaml ./
COPY service ./service
COPY rules ./rules
COPY probes ./probes
# Editable install: the service reads openapi.yaml and the rule base from this source tree.
RUN pip install -c constraints.txt -e '.[all]'

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["framework-advisor", "serve", "--host", "0.0.0.0", "--port", "8000"]
