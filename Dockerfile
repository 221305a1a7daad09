# framework-advisor: the service with every framework it measures, as a non-root user.
# CPU image by default. For NVIDIA GPUs build with a CUDA base and PyTorch's CUDA wheels, e.g.
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04 \
#                --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t framework-advisor:cuda .
# (a CUDA base needs python3.11+ and pip installed; see README "Container image").
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRAMEWORK_ADVISOR_DATA_DIR=/data

RUN groupadd --system --gid 10001 advisor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin advisor \
    && mkdir -p /app /data \
    && chown advisor:advisor /data

WORKDIR /app
# Torch first, from the index that matches the base image (the PyPI default is a multi-GB CUDA build).
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0
COPY pyproject.toml README.md openapi.yaml ./
COPY service ./service
COPY rules ./rules
COPY probes ./probes
# Editable install: the service reads openapi.yaml and the rule base from this source tree.
RUN pip install -e '.[tensorflow]'

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["framework-advisor", "serve", "--host", "0.0.0.0", "--port", "8000"]
